// Package pipeline applies GitLab's processing rules (package pipestate) to
// pipelines in the database: it releases jobs whose prerequisites are done,
// records the composed status, and puts the jobs that must run on the JOBS
// stream. The dispatcher runs it when jobs finish; the ingress runs it when a
// user cancels, retries or plays.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipestate"
	"github.com/triggerd/triggerd/internal/store"
)

// Advance processes a pipeline inside the caller's transaction: it locks the
// pipeline row, applies GitLab's release rules to its jobs (created jobs
// whose prerequisites are done become pending, manual or skipped) and
// records the composed status. Jobs that must run are then published by
// PublishPending, after the commit.
func Advance(ctx context.Context, q *store.Queries, pipelineID int64) error {
	if _, err := q.LockPipeline(ctx, pipelineID); err != nil {
		return fmt.Errorf("lock pipeline %d: %w", pipelineID, err)
	}
	rows, err := q.JobStates(ctx, pipelineID)
	if err != nil {
		return fmt.Errorf("jobs of pipeline %d: %w", pipelineID, err)
	}
	jobs := make([]pipestate.Job, len(rows))
	index := make(map[int64]int, len(rows))
	for i, r := range rows {
		var needs []string
		if len(r.Needs) > 0 && string(r.Needs) != "null" {
			if err := json.Unmarshal(r.Needs, &needs); err != nil {
				return fmt.Errorf("needs of job %d: %w", r.ID, err)
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
		return fmt.Errorf("release jobs: %w", err)
	}
	status, _ := pipestate.Status(jobs)
	finished := pipestate.Finished(status)
	running := status == "running"
	if err := q.SetPipelineStatus(ctx, pipelineID, status, running, finished); err != nil {
		return fmt.Errorf("pipeline status: %w", err)
	}
	return nil
}

// PublishPending puts every pending job of a pipeline on the JOBS stream.
// Message ids are derived from job ids, so publishing a job twice within the
// duplicate window stores it once; past the window a runner's claim of an
// already-taken job fails harmlessly.
func PublishPending(ctx context.Context, q *store.Queries, js jetstream.JetStream, pipelineID int64) error {
	jobs, err := q.PendingBuilds(ctx, pipelineID)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		data, err := json.Marshal(event.Job{JobID: j.ID, PipelineID: j.PipelineID, ProjectID: j.ProjectID})
		if err != nil {
			return err
		}
		if _, err := js.Publish(ctx, event.JobSubject(j.ProjectID), data, jetstream.WithMsgID(event.JobMsgID(j.ID))); err != nil {
			return fmt.Errorf("publish job %d: %w", j.ID, err)
		}
	}
	return nil
}
