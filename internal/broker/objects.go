package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
)

// Job artifacts travel from a runner to the dispatchers through a JetStream
// object store: the runner puts the job's archive there and names it in the
// job's finished event; the dispatcher that applies the event copies it into
// Postgres in the same transaction as the result, then deletes the object.
// The bucket's TTL removes what a lost event left behind.
const (
	// ArtifactsBucket is the object store bucket of artifacts in flight.
	ArtifactsBucket = "ARTIFACTS"
	// ArtifactsTTL bounds how long an archive waits for its dispatcher.
	ArtifactsTTL = 24 * time.Hour
	// MaxArtifactsSize caps one job's archive. Runners refuse to upload a
	// larger one and dispatchers refuse to load one into memory.
	MaxArtifactsSize = 100 << 20
)

// ArtifactsObjectName is the object name of a job's archive.
func ArtifactsObjectName(jobID int64) string {
	return "job-" + strconv.FormatInt(jobID, 10) + ".zip"
}

// ArtifactsStore opens the artifacts bucket, creating it on first use with
// as many replicas as the JOB_EVENTS stream whose events it accompanies.
// Only settings a NATS 2.9 server understands are used (no compression, no
// metadata). Safe to call from many processes at once.
func ArtifactsStore(ctx context.Context, js jetstream.JetStream) (jetstream.ObjectStore, error) {
	obs, err := js.ObjectStore(ctx, ArtifactsBucket)
	if err == nil {
		return obs, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("open object store %s: %w", ArtifactsBucket, err)
	}
	replicas := 1
	if s, err := js.Stream(ctx, event.JobEventsStream); err == nil && s.CachedInfo().Config.Replicas > 0 {
		replicas = s.CachedInfo().Config.Replicas
	}
	obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      ArtifactsBucket,
		Description: "Job artifacts on their way from runners to the dispatchers.",
		TTL:         ArtifactsTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another process created it meanwhile.
		obs, err = js.ObjectStore(ctx, ArtifactsBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("create object store %s: %w", ArtifactsBucket, err)
	}
	return obs, nil
}

// PutArtifacts uploads a job's archive and returns its object name and
// size. Putting the same job's archive again replaces it.
func PutArtifacts(ctx context.Context, js jetstream.JetStream, jobID int64, r io.Reader) (string, int64, error) {
	obs, err := ArtifactsStore(ctx, js)
	if err != nil {
		return "", 0, err
	}
	name := ArtifactsObjectName(jobID)
	info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "artifacts.zip"}, r)
	if err != nil {
		return "", 0, fmt.Errorf("put %s: %w", name, err)
	}
	return name, int64(info.Size), nil
}

// ErrArtifactsTooLarge is an object beyond MaxArtifactsSize.
var ErrArtifactsTooLarge = errors.New("artifacts archive too large")

// GetArtifacts reads an archive whole (its digest checked). A missing
// object is jetstream.ErrObjectNotFound; one beyond MaxArtifactsSize is
// ErrArtifactsTooLarge. Both are permanent; anything else may pass.
func GetArtifacts(ctx context.Context, js jetstream.JetStream, name string) ([]byte, error) {
	obs, err := ArtifactsStore(ctx, js)
	if err != nil {
		return nil, err
	}
	info, err := obs.GetInfo(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("artifacts %s: %w", name, err)
	}
	if info.Size > MaxArtifactsSize {
		return nil, fmt.Errorf("artifacts %s: %d bytes: %w", name, info.Size, ErrArtifactsTooLarge)
	}
	b, err := obs.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("artifacts %s: %w", name, err)
	}
	return b, nil
}

// DeleteArtifacts removes an archive once it is stored elsewhere. A missing
// object is not an error.
func DeleteArtifacts(ctx context.Context, js jetstream.JetStream, name string) error {
	obs, err := ArtifactsStore(ctx, js)
	if err != nil {
		return err
	}
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete artifacts %s: %w", name, err)
	}
	return nil
}
