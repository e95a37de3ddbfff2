package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/pipestate"
	"github.com/triggerd/triggerd/internal/store"
)

// errDownstreamRefMissing is a bridge event's downstream ref not existing
// (yet): the event is retried with backoff until the bridge's retry time is
// up, since a branch may well be pushed in the meantime.
var errDownstreamRefMissing = errors.New("downstream ref not found")

// How GitLab describes a bridge's failure reasons; they are the bodies of
// the rejections stored for the bridge's event.
var bridgeFailures = map[string]*rejection{
	pipeline.ReasonProjectNotFound: rejectMessage(http.StatusNotFound,
		"This job could not be executed because downstream pipeline trigger project could not be found"),
	pipeline.ReasonInsufficientPerms: rejectMessage(http.StatusForbidden,
		"This job could not be executed because of insufficient permissions to create a downstream pipeline"),
	pipeline.ReasonMaxDepth: rejectMessage(http.StatusBadRequest,
		"This job could not be executed because the maximum depth of downstream pipelines was reached"),
	pipeline.ReasonMaxHierarchySize: rejectMessage(http.StatusBadRequest,
		"This job could not be executed because the maximum pipeline hierarchy size was reached"),
}

// processBridge decides a bridge's event inside tx: it creates the
// downstream pipeline and links it to the bridge, or fails the bridge with
// GitLab's reason, and processes the upstream pipeline either way, all in
// one transaction. Exactly one pipeline is ever made for a bridge: its
// event id is derived from the bridge and unique among pipelines, and the
// bridge is linked (and so no longer pending) in the transaction that
// creates it.
//
// A missing downstream ref is errDownstreamRefMissing, so that the caller
// rolls back and retries, unless final is set (the bridge's retry time is
// up): the bridge then fails with downstream_pipeline_creation_failed.
func (c *creator) processBridge(ctx context.Context, q *store.Queries, ev *event.TriggerRequested, final bool) (result, error) {
	if done, ok, err := c.storedBridgeResult(ctx, q, ev); err != nil || ok {
		return done, err
	}
	upstreamID, err := q.BridgePipelineID(ctx, ev.BridgeID)
	if errors.Is(err, store.ErrNotFound) {
		return reject(ctx, q, ev, rejectMessage(http.StatusNotFound, "404 Not Found"))
	}
	if err != nil {
		return result{}, err
	}
	// Lock order: the upstream pipeline before its bridge's row. The
	// downstream does not exist yet, so this still takes children before
	// parents, as every pipeline.Advance does.
	if _, err := q.LockPipeline(ctx, upstreamID); err != nil {
		return result{}, fmt.Errorf("lock upstream pipeline %d: %w", upstreamID, err)
	}
	// Another dispatcher may have decided a copy of this event while we
	// waited for the lock.
	if done, ok, err := c.storedBridgeResult(ctx, q, ev); err != nil || ok {
		return done, err
	}
	bridge, err := q.BridgeByID(ctx, ev.BridgeID)
	if err != nil {
		return result{}, fmt.Errorf("bridge %d: %w", ev.BridgeID, err)
	}
	if bridge.Status != pipestate.StatusPending || bridge.DownstreamPipelineID != nil {
		// Canceled (or otherwise decided) before its event came through:
		// nothing to create, and nothing to say to anyone.
		return reject(ctx, q, ev, rejectMessage(http.StatusConflict, "409 Conflict - the bridge is "+bridge.Status))
	}
	var spec store.JobSpec
	if err := json.Unmarshal(bridge.Spec, &spec); err != nil {
		return result{}, fmt.Errorf("spec of bridge %d: %w", bridge.ID, err)
	}
	fail := func(reason string, rej *rejection) (result, error) {
		return c.failBridge(ctx, q, ev, bridge, reason, rej)
	}

	project, err := q.ProjectByID(ctx, ev.ProjectID)
	if errors.Is(err, store.ErrNotFound) {
		return fail(pipeline.ReasonProjectNotFound, nil)
	}
	if err != nil {
		return result{}, err
	}

	// The bridge's user must be allowed to run pipelines downstream.
	if bridge.UserID == nil {
		return fail(pipeline.ReasonInsufficientPerms, nil)
	}
	user, err := q.UserByID(ctx, *bridge.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return fail(pipeline.ReasonInsufficientPerms, nil)
	}
	if err != nil {
		return result{}, err
	}
	if user.State != "active" {
		return fail(pipeline.ReasonInsufficientPerms, nil)
	}
	if !user.IsAdmin {
		level, err := q.AccessLevel(ctx, user.ID, project.ID)
		if err != nil {
			return result{}, err
		}
		if level < store.Developer {
			return fail(pipeline.ReasonInsufficientPerms, nil)
		}
	}

	// Hierarchy limits.
	lineage, err := q.PipelineLineage(ctx, upstreamID)
	if err != nil {
		return result{}, fmt.Errorf("lineage of pipeline %d: %w", upstreamID, err)
	}
	if lineage.Depth+1 > c.limits.MaxDepth {
		return fail(pipeline.ReasonMaxDepth, nil)
	}
	size, err := q.HierarchySize(ctx, lineage.RootID)
	if err != nil {
		return result{}, fmt.Errorf("hierarchy of pipeline %d: %w", lineage.RootID, err)
	}
	if size >= c.limits.MaxHierarchySize {
		return fail(pipeline.ReasonMaxHierarchySize, nil)
	}

	ref := ev.Ref
	if ref == "" && project.DefaultBranch != nil {
		ref = *project.DefaultBranch
	}
	np := &store.NewPipeline{
		ProjectID: project.ID, EventID: ev.EventID, Ref: ref, Status: "created", Source: "pipeline",
		UserID: &user.ID, UpstreamJobID: &bridge.ID, UpstreamPipelineID: &bridge.PipelineID, UpstreamProjectID: &bridge.ProjectID,
		Variables: ev.Variables,
	}
	np, rej, err := c.build(ctx, newLookup(q, c.commits), project, np, &user, ev, "")
	if err != nil {
		return result{}, err
	}
	if rej != nil {
		if rej.refNotFound && !final {
			return result{}, fmt.Errorf("bridge %d: %w: %q in project %d", bridge.ID, errDownstreamRefMissing, ref, project.ID)
		}
		// Missing config, no jobs, filtered by workflow rules, an
		// ambiguous ref, or a ref that never came: GitLab fails the
		// bridge at once.
		return fail(pipeline.ReasonCreationFailed, rej)
	}

	// A config error keeps the failed downstream, linked to a failed
	// bridge; otherwise the bridge is done (no strategy) or waits for its
	// downstream (depend, mirror).
	status, reason := pipestate.StatusSuccess, (*string)(nil)
	switch {
	case np.YAMLErrors != nil:
		r := pipeline.ReasonCreationFailed
		status, reason = pipestate.StatusFailed, &r
	case spec.Trigger != nil && pipeline.Dependent(spec.Trigger.Strategy):
		status = pipestate.StatusRunning
	}
	res, err := c.create(ctx, q, np, func(id int64) error {
		ok, err := q.LinkBridge(ctx, bridge.ID, id, status, reason)
		if err == nil && !ok {
			err = fmt.Errorf("bridge %d changed under its pipeline lock", bridge.ID)
		}
		return err
	})
	if err != nil {
		return result{}, err
	}
	touched, err := pipeline.Advance(ctx, q, upstreamID)
	if err != nil {
		return result{}, err
	}
	res.touched = append(res.touched, touched...)
	return res, nil
}

// failBridge fails the bridge with reason, stores the event's rejection
// (rej, or GitLab's description of the reason) and processes the upstream
// pipeline, whose failure may release on_failure jobs or end it.
func (c *creator) failBridge(ctx context.Context, q *store.Queries, ev *event.TriggerRequested, bridge store.Job, reason string, rej *rejection) (result, error) {
	if rej == nil {
		rej = bridgeFailures[reason]
	}
	if _, err := q.FailBridge(ctx, bridge.ID, reason); err != nil {
		return result{}, fmt.Errorf("fail bridge %d: %w", bridge.ID, err)
	}
	res, err := reject(ctx, q, ev, rej)
	if err != nil {
		return result{}, err
	}
	if res.touched, err = pipeline.Advance(ctx, q, bridge.PipelineID); err != nil {
		return result{}, err
	}
	return res, nil
}

// storedBridgeResult is storedResult for a bridge's event: the bridge's
// pipeline and its upstream chain are published again with the downstream.
func (c *creator) storedBridgeResult(ctx context.Context, q *store.Queries, ev *event.TriggerRequested) (result, bool, error) {
	done, ok, err := storedResult(ctx, q, ev.EventID)
	if err != nil || !ok {
		return done, ok, err
	}
	upstreamID, err := q.BridgePipelineID(ctx, ev.BridgeID)
	if errors.Is(err, store.ErrNotFound) {
		return done, true, nil
	}
	if err != nil {
		return result{}, false, err
	}
	chain, err := q.PipelineAndAncestors(ctx, upstreamID, c.limits.MaxDepth+1)
	if err != nil {
		return result{}, false, fmt.Errorf("upstream of bridge %d: %w", ev.BridgeID, err)
	}
	done.touched = append(done.touched, chain...)
	return done, true, nil
}

// BridgeRetry is how a bridge's downstream creation is retried while its
// ref does not exist.
type BridgeRetry struct {
	// Initial is the first delay; each retry doubles it, with jitter, up
	// to 30 s.
	Initial time.Duration
	// MaxElapsed is how long after the event was first published the
	// bridge keeps trying; then it fails.
	MaxElapsed time.Duration
}

// Defaults of BridgeRetry.
const (
	DefaultBridgeRetryInitial    = 250 * time.Millisecond
	DefaultBridgeRetryMaxElapsed = 2 * time.Minute
	maxBridgeRetryInterval       = 30 * time.Second
)

// delay is how long the delivery-th attempt of an event first published at
// first waits before the next one, and false when the time is up.
func (r BridgeRetry) delay(delivered uint64, first, now time.Time) (time.Duration, bool) {
	remaining := first.Add(r.MaxElapsed).Sub(now)
	if remaining <= 0 {
		return 0, false
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.Initial),
		backoff.WithMaxInterval(maxBridgeRetryInterval),
		backoff.WithMaxElapsedTime(0),
		backoff.WithRandomizationFactor(0.2),
	)
	// The delay depends only on how often the event was delivered, so any
	// dispatcher computes it without state; past the cap it stays there.
	n := min(max(delivered, 1), 64)
	d := r.Initial
	for range n {
		d = b.NextBackOff()
	}
	return max(min(d, remaining), 10*time.Millisecond), true
}
