package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// GitLab's failure reasons of bridges (CommitStatus failure_reason).
const (
	ReasonProjectNotFound   = "downstream_bridge_project_not_found"
	ReasonInsufficientPerms = "insufficient_bridge_permissions"
	ReasonCreationFailed    = "downstream_pipeline_creation_failed"
	ReasonMaxDepth          = "reached_max_descendant_pipelines_depth"
	ReasonMaxHierarchySize  = "reached_max_pipeline_hierarchy_size"
)

// BridgeEventID is the event id of a bridge's fan-out. It is derived from
// the bridge alone, so every publication of one bridge is the same event:
// JetStream drops repeats within its duplicate window, and past it the
// dispatcher finds the pipeline (or the decision) stored under the id.
func BridgeEventID(bridgeID int64) string { return "bridge-" + strconv.FormatInt(bridgeID, 10) }

// fanOut publishes a TriggerRequested event for every pending, unlinked
// bridge of a pipeline. A bridge whose downstream project does not exist is
// failed at once instead, and fanOut returns the pipelines that failing it
// moved, which must be published in turn.
func fanOut(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, pipelineID int64) ([]int64, error) {
	q := store.New(pool)
	bridges, err := q.PendingBridges(ctx, pipelineID)
	if err != nil {
		return nil, fmt.Errorf("pending bridges of pipeline %d: %w", pipelineID, err)
	}
	var moved []int64
	for _, b := range bridges {
		ev, err := BridgeEvent(ctx, q, b)
		if errors.Is(err, store.ErrNotFound) {
			touched, err := FailBridge(ctx, pool, b, ReasonProjectNotFound)
			if err != nil {
				return moved, err
			}
			moved = append(moved, touched...)
			continue
		}
		if err != nil {
			return moved, err
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return moved, err
		}
		if _, err := js.Publish(ctx, event.TriggerSubject(ev.ProjectID), data, jetstream.WithMsgID(ev.EventID)); err != nil {
			return moved, fmt.Errorf("publish bridge %d: %w", b.ID, err)
		}
	}
	return moved, nil
}

// BridgeEvent is the trigger event of a bridge's downstream pipeline: the
// downstream project resolved by path, its ref (trigger:branch, else the
// project's default branch, else empty for the dispatcher to resolve), and
// the variables the bridge forwards (its YAML variables, then the upstream
// pipeline's variables, the later winning). ErrNotFound when the downstream
// project does not exist.
func BridgeEvent(ctx context.Context, q *store.Queries, b store.Job) (event.TriggerRequested, error) {
	var spec store.JobSpec
	if err := json.Unmarshal(b.Spec, &spec); err != nil {
		return event.TriggerRequested{}, fmt.Errorf("spec of bridge %d: %w", b.ID, err)
	}
	// A child pipeline (trigger:include) has no project; it is not
	// supported and fails like a missing project.
	if spec.Trigger == nil || spec.Trigger.Project == "" {
		return event.TriggerRequested{}, store.ErrNotFound
	}
	project, err := q.ProjectByPath(ctx, strings.Trim(spec.Trigger.Project, "/"))
	if err != nil {
		return event.TriggerRequested{}, err
	}
	ref := spec.Trigger.Branch
	if ref == "" && project.DefaultBranch != nil {
		ref = *project.DefaultBranch
	}
	vars := map[string]store.Variable{}
	if spec.Trigger.ForwardYAMLVariables {
		for _, v := range spec.Variables {
			vars[v.Key] = v
		}
	}
	if spec.Trigger.ForwardPipelineVariables {
		pvs, err := q.PipelineVariables(ctx, b.PipelineID)
		if err != nil {
			return event.TriggerRequested{}, fmt.Errorf("variables of pipeline %d: %w", b.PipelineID, err)
		}
		for _, v := range pvs {
			vars[v.Key] = v
		}
	}
	ev := event.TriggerRequested{
		EventID: BridgeEventID(b.ID), ProjectID: project.ID, Ref: ref, Source: "pipeline",
		UpstreamJobID: b.ID, BridgeID: b.ID, RequestedAt: time.Now().UTC(),
	}
	for _, v := range vars {
		if v.VariableType == "" {
			v.VariableType = "env_var"
		}
		ev.Variables = append(ev.Variables, v)
	}
	slices.SortFunc(ev.Variables, func(a, b store.Variable) int { return strings.Compare(a.Key, b.Key) })
	return ev, nil
}

// FailBridge fails a pending bridge with reason in its own transaction and
// processes its pipeline, returning the pipelines that moved. A bridge that
// is not pending any more is left alone.
func FailBridge(ctx context.Context, pool *pgxpool.Pool, b store.Job, reason string) ([]int64, error) {
	var touched []int64
	err := store.InTx(ctx, pool, func(q *store.Queries) error {
		// The pipeline first, then its job: the order every writer of a
		// pipeline's jobs takes.
		if _, err := q.LockPipeline(ctx, b.PipelineID); err != nil {
			return err
		}
		ok, err := q.FailBridge(ctx, b.ID, reason)
		if err != nil || !ok {
			return err
		}
		touched, err = Advance(ctx, q, b.PipelineID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fail bridge %d: %w", b.ID, err)
	}
	return touched, nil
}
