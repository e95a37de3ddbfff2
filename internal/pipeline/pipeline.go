// Package pipeline applies GitLab's processing rules (package pipestate) to
// pipelines in the database: it releases jobs whose prerequisites are done,
// records the composed status, carries a finished downstream pipeline's
// status up to the bridges (trigger: jobs with strategy depend or mirror)
// that wait for it, and after the commit puts the jobs that must run on the
// JOBS stream and the bridges that must trigger on the TRIGGERS stream. The
// dispatcher runs it when jobs finish and when pipelines are created; the
// ingress runs Advance when a user cancels, retries or plays.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipestate"
	"github.com/triggerd/triggerd/internal/store"
)

// Advance processes a pipeline inside the caller's transaction: it locks the
// pipeline row, applies GitLab's release rules to its jobs (created jobs
// whose prerequisites are done become pending, manual or skipped) and
// records the composed status. Jobs and bridges that must run are then
// published by PublishPending, after the commit.
//
// When the pipeline ends up finished and was created by a bridge with
// strategy depend or mirror, the bridge takes its status (if it is still
// waiting for it) and the upstream pipeline is processed too, and so on up
// the chain, in the same transaction. Locks are always taken child first,
// then parent, never the other way, so concurrent transactions on one
// hierarchy cannot deadlock on pipeline rows. The upstream is re-processed
// even when its bridge had already been updated, so that a redelivered event
// repairs follow-ups a crash lost.
//
// Advance returns every pipeline it processed, the given one first: the
// caller passes them all to PublishPending once the transaction commits.
func Advance(ctx context.Context, q *store.Queries, pipelineID int64) ([]int64, error) {
	var touched []int64
	seen := map[int64]bool{}
	id := pipelineID
	var bridgeID int64 // the bridge of id to give inherit, when set
	var inherit string
	for !seen[id] {
		seen[id] = true
		if _, err := q.LockPipeline(ctx, id); err != nil {
			return touched, fmt.Errorf("lock pipeline %d: %w", id, err)
		}
		if bridgeID != 0 {
			if _, err := q.InheritBridgeStatus(ctx, bridgeID, inherit); err != nil {
				return touched, fmt.Errorf("bridge %d status: %w", bridgeID, err)
			}
		}
		status, err := process(ctx, q, id)
		if err != nil {
			return touched, err
		}
		touched = append(touched, id)
		if !pipestate.Finished(status) {
			break
		}
		ub, err := q.UpstreamBridgeOf(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return touched, fmt.Errorf("upstream bridge of pipeline %d: %w", id, err)
		}
		if !Dependent(ub.Strategy) {
			break
		}
		id, bridgeID, inherit = ub.PipelineID, ub.ID, BridgeStatus(status)
	}
	return touched, nil
}

// Dependent reports whether a bridge with this trigger:strategy waits for its
// downstream pipeline and takes its status.
func Dependent(strategy string) bool { return strategy == "depend" || strategy == "mirror" }

// BridgeStatus is the status a dependent bridge takes from its downstream
// pipeline's final status: the same one.
func BridgeStatus(downstream string) string {
	switch downstream {
	case pipestate.StatusSuccess, pipestate.StatusCanceled, pipestate.StatusSkipped:
		return downstream
	}
	return pipestate.StatusFailed
}

// process is one pipeline's release and status rules, on a locked row. It
// returns the pipeline's new status.
func process(ctx context.Context, q *store.Queries, pipelineID int64) (string, error) {
	rows, err := q.JobStates(ctx, pipelineID)
	if err != nil {
		return "", fmt.Errorf("jobs of pipeline %d: %w", pipelineID, err)
	}
	jobs := make([]pipestate.Job, len(rows))
	index := make(map[int64]int, len(rows))
	for i, r := range rows {
		var needs []string
		if len(r.Needs) > 0 && string(r.Needs) != "null" {
			if err := json.Unmarshal(r.Needs, &needs); err != nil {
				return "", fmt.Errorf("needs of job %d: %w", r.ID, err)
			}
			if needs == nil {
				needs = []string{}
			}
		}
		jobs[i] = pipestate.Job{ID: r.ID, Name: r.Name, StageIdx: r.StageIdx, Status: r.Status, When: r.When,
			AllowFailure: r.AllowFailure, Needs: needs, Retried: r.Retried}
		index[r.ID] = i
	}
	ts := pipestate.Advance(jobs)
	ids := make([]int64, len(ts))
	statuses := make([]string, len(ts))
	for i, t := range ts {
		ids[i], statuses[i] = t.JobID, t.To
		jobs[index[t.JobID]].Status = t.To
	}
	if err := q.SetJobStatuses(ctx, ids, statuses); err != nil {
		return "", fmt.Errorf("release jobs: %w", err)
	}
	status, warnings := pipestate.Status(jobs)
	finished := pipestate.Finished(status)
	running := status == "running"
	if err := q.SetPipelineStatus(ctx, pipelineID, status, warnings, running, finished); err != nil {
		return "", fmt.Errorf("pipeline status: %w", err)
	}
	return status, nil
}

// PublishPending puts every pending job of the given pipelines on the JOBS
// stream and fans out their pending bridges (see fanOut), after the commit
// that released them. Message ids are derived from job ids, so publishing a
// job twice within the duplicate window stores it once; past the window a
// runner's claim of an already-taken job fails harmlessly, and a repeated
// bridge event finds its pipeline by event id.
//
// A bridge that cannot be fanned out at all (its downstream project does not
// exist) is failed here, in its own transaction, and the pipelines that
// moved are published in turn. An error means some publication may be
// missing: the caller retries (by redelivery of whatever it was handling),
// which is harmless for what was already published.
func PublishPending(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, pipelineIDs ...int64) error {
	q := store.New(pool)
	queue := slices.Clone(pipelineIDs)
	slices.Sort(queue)
	queue = slices.Compact(queue)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		jobs, err := q.PendingBuilds(ctx, id)
		if err != nil {
			return err
		}
		if err := PublishJobs(ctx, js, jobs); err != nil {
			return err
		}
		moved, err := fanOut(ctx, pool, js, id)
		if err != nil {
			return err
		}
		// A pipeline is queued again when a failed bridge moved it: its
		// next jobs were released since it was looked at. Every repeat
		// follows a bridge failing, so this ends.
		queue = append(queue, moved...)
	}
	return nil
}

// PublishJobs puts pending jobs on the JOBS stream, all at once, and
// returns when JetStream has stored every one. A job's message id is
// derived from its id, so a repeat within the duplicate window is dropped.
func PublishJobs(ctx context.Context, js jetstream.JetStream, jobs []store.JobRef) error {
	msgs := make([]broker.Message, len(jobs))
	for i, j := range jobs {
		data, err := json.Marshal(event.Job{JobID: j.ID, PipelineID: j.PipelineID, ProjectID: j.ProjectID})
		if err != nil {
			return err
		}
		msgs[i] = broker.Message{Subject: event.JobSubject(j.ProjectID), Data: data, MsgID: event.JobMsgID(j.ID)}
	}
	return broker.PublishAll(ctx, js, msgs)
}
