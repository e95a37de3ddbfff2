package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// Jobs serves runners: it answers claims and applies job events (traces,
// results, pipeline changes), advancing pipelines as their jobs finish. Any
// number of dispatchers run it at once; the pipeline row lock serialises the
// work on one pipeline.
type Jobs struct {
	log         *slog.Logger
	pool        *pgxpool.Pool
	nc          *nats.Conn
	js          jetstream.JetStream
	cons        jetstream.Consumer
	externalURL string
	concurrency int
	// stuckAfter is how long a running job may go without a heartbeat from
	// its runner before it is failed.
	stuckAfter time.Duration
}

// NewJobs makes the job-side worker.
func NewJobs(log *slog.Logger, pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream, cons jetstream.Consumer, externalURL string, concurrency int, stuckAfter time.Duration) *Jobs {
	if concurrency < 1 {
		concurrency = 8
	}
	if stuckAfter <= 0 {
		stuckAfter = 5 * time.Minute
	}
	return &Jobs{log: log, pool: pool, nc: nc, js: js, cons: cons, externalURL: externalURL, concurrency: concurrency, stuckAfter: stuckAfter}
}

// reap fails the jobs of runners that died mid-job, so that no pipeline
// waits forever. Every dispatcher runs it; the updates are atomic per job,
// so several reaping at once do no harm.
func (w *Jobs) reap(ctx context.Context) {
	t := time.NewTicker(w.stuckAfter / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q := store.New(w.pool)
		pipelines, err := q.FailStuckJobs(ctx, time.Now().Add(-w.stuckAfter))
		if err != nil {
			w.log.Warn("reap stuck jobs", "err", err)
			continue
		}
		for _, id := range pipelines {
			w.log.Warn("failed stuck jobs of a silent runner", "pipeline_id", id)
			var touched []int64
			if err := store.InTx(ctx, w.pool, func(q *store.Queries) (err error) { touched, err = pipeline.Advance(ctx, q, id); return err }); err != nil {
				w.log.Warn("advance after reaping", "pipeline_id", id, "err", err)
				continue
			}
			if err := pipeline.PublishPending(ctx, w.pool, w.js, touched...); err != nil {
				w.log.Warn("publish after reaping", "pipeline_id", id, "err", err)
			}
		}
	}
}

// Run answers claims and consumes job events until ctx ends.
func (w *Jobs) Run(ctx context.Context) error {
	sub, err := w.serveClaims(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Drain() }()
	go w.reap(ctx)
	return broker.Work(ctx, w.cons, broker.WorkOptions{Name: "job events", Concurrency: w.concurrency, Log: w.log}, w.handle)
}

// serveClaims answers claims on the dispatchers' queue group until the
// subscription is drained.
func (w *Jobs) serveClaims(ctx context.Context) (*nats.Subscription, error) {
	sub, err := w.nc.QueueSubscribe(event.ClaimSubject, event.ClaimQueue, func(m *nats.Msg) {
		w.claim(context.WithoutCancel(ctx), m)
	})
	if err != nil {
		return nil, fmt.Errorf("serve claims: %w", err)
	}
	return sub, nil
}

// claim marks a pending job running, gives it a fresh CI job token, and
// answers with everything the runner needs. A job that is not pending any
// more is refused, which is what keeps a job from running twice, unless it
// was claimed under the same claim id: then the runner is retrying a claim
// whose answer it never got (this dispatcher or another committed it and
// died, or NATS lost the reply), and it is answered again.
//
// The repeated answer carries a new token whose digest replaces the first
// one (store.ClaimJob says when that is allowed). The alternative, deriving
// the token from a server secret and the claim id so that every answer
// carries the same one, would need a secret the dispatchers do not hold and
// would make every live job token computable from that secret and the claim
// ids in the database; a fresh random token keeps "only a digest is stored"
// true. The first token was never seen by anyone, so nothing that worked
// stops working.
func (w *Jobs) claim(ctx context.Context, m *nats.Msg) {
	var req event.JobClaim
	answer := func(p event.JobPayload) {
		data, _ := json.Marshal(p)
		if err := m.Respond(data); err != nil {
			w.log.Warn("answer claim", "job_id", req.JobID, "err", err)
		}
	}
	if err := json.Unmarshal(m.Data, &req); err != nil || req.JobID == 0 {
		answer(event.JobPayload{Reason: event.ClaimMalformed})
		return
	}
	token := secret.NewJobToken()
	var rc store.RunContext
	var again bool
	err := store.InTx(ctx, w.pool, func(q *store.Queries) error {
		pipelineID, repeated, err := q.ClaimJob(ctx, store.Claim{JobID: req.JobID, Runner: req.Runner,
			ID: req.ClaimID, Attempt: req.Attempt, TokenDigest: secret.Digest(token)})
		if err != nil {
			return err
		}
		again = repeated
		if _, err := pipeline.Advance(ctx, q, pipelineID); err != nil {
			return err
		}
		if rc, err = q.JobRunContext(ctx, req.JobID); err != nil {
			return err
		}
		return runPredefined(ctx, q, &rc)
	})
	if errors.Is(err, store.ErrNotFound) {
		answer(event.JobPayload{JobID: req.JobID, Reason: event.ClaimRefused})
		return
	}
	if err != nil {
		w.log.Warn("claim failed", "job_id", req.JobID, "err", err)
		answer(event.JobPayload{JobID: req.JobID, Reason: event.ClaimFailed})
		return
	}
	j := rc.Job
	answer(event.JobPayload{
		OK: true, JobID: j.ID, PipelineID: j.PipelineID, ProjectID: j.ProjectID, Name: j.Name, Stage: j.Stage,
		Token: token, Variables: jobVariables(rc, token, w.externalURL), BeforeScript: rc.Spec.BeforeScript,
		Script: rc.Spec.Script, AfterScript: rc.Spec.AfterScript, AllowFailureExitCodes: rc.Spec.AllowFailureExitCodes,
		Artifacts: rc.Spec.Artifacts,
	})
	if again {
		w.log.Info("claim answered again", "job_id", j.ID, "runner", req.Runner, "attempt", req.Attempt)
		return
	}
	w.log.Debug("job claimed", "job_id", j.ID, "runner", req.Runner)
}

// jobVariables is a job's full variable set in GitLab's precedence, lowest
// first: predefined, YAML (global, then the job's), then the pipeline's
// (trigger) variables. Later entries win.
func jobVariables(rc store.RunContext, token, externalURL string) []store.Variable {
	j := rc.Job
	vars := map[string]string{}
	for k, v := range rc.PredefinedVariables {
		vars[k] = v
	}
	id := strconv.FormatInt(j.ID, 10)
	pid := strconv.FormatInt(j.PipelineID, 10)
	project := externalURL + "/" + j.ProjectPath
	for k, v := range map[string]string{
		"CI_JOB_ID": id, "CI_JOB_NAME": j.Name, "CI_JOB_STAGE": j.Stage, "CI_JOB_URL": project + "/-/jobs/" + id,
		"CI_JOB_TOKEN": token, "CI_PIPELINE_ID": pid, "CI_PIPELINE_IID": strconv.FormatInt(j.PipelineIID, 10),
		"CI_PIPELINE_URL": project + "/-/pipelines/" + pid, "CI_PIPELINE_CREATED_AT": rc.PipelineCreatedAt.UTC().Format(time.RFC3339),
		"CI_SERVER_URL": externalURL, "CI_API_V4_URL": externalURL + "/api/v4", "CI_PROJECT_URL": project,
		"CI_PROJECT_DIR": "/builds/" + j.ProjectPath, "CI_BUILDS_DIR": "/builds", "CI_REPOSITORY_URL": project + ".git",
		"CI_JOB_STARTED_AT": time.Now().UTC().Format(time.RFC3339), "CI_NODE_TOTAL": "1",
	} {
		vars[k] = v
	}
	if j.Runner != nil {
		vars["CI_RUNNER_DESCRIPTION"] = *j.Runner
	}
	for _, v := range rc.Spec.Variables {
		vars[v.Key] = v.Value
	}
	for _, v := range rc.PipelineVariables {
		vars[v.Key] = v.Value
	}
	vars["CI_JOB_TOKEN"] = token // never overridable
	out := make([]store.Variable, 0, len(vars))
	for k, v := range vars {
		out = append(out, store.Variable{Key: k, Value: v, VariableType: "env_var"})
	}
	slices.SortFunc(out, func(a, b store.Variable) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

// handle applies one job event.
func (w *Jobs) handle(ctx context.Context, m jetstream.Msg) {
	var ev event.JobEvent
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.PipelineID == 0 {
		w.log.Error("dropping malformed job event", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	log := w.log.With("job_id", ev.JobID, "pipeline_id", ev.PipelineID, "type", ev.Type)
	retry := func(err error, d time.Duration) {
		log.Warn("job event failed; will retry", "err", err)
		_ = m.NakWithDelay(d)
	}
	switch ev.Type {
	case event.JobEventTrace:
		q := store.New(w.pool)
		length, appended, err := q.AppendTrace(ctx, ev.JobID, ev.Offset, ev.Data)
		if err != nil {
			retry(err, time.Second)
			return
		}
		// A chunk from beyond the log's end waits for the ones before it;
		// anything else that did not append is a duplicate or too late.
		if !appended && ev.Offset > length {
			if md, err := m.Metadata(); err == nil && md.NumDelivered < 20 {
				_ = m.NakWithDelay(200 * time.Millisecond)
				return
			}
		}
		_ = m.Ack()
	case event.JobEventFinished, event.JobEventAdvance:
		// Artifacts: the runner's archive is read from the object store
		// before the transaction, stored with the result, and deleted
		// after the commit.
		var artifacts []byte
		if ev.Type == event.JobEventFinished && ev.ArtifactsObject != "" {
			b, err := broker.GetArtifacts(ctx, w.js, ev.ArtifactsObject)
			switch {
			case err == nil:
				artifacts = b
			case errors.Is(err, jetstream.ErrObjectNotFound), errors.Is(err, broker.ErrArtifactsTooLarge),
				errors.Is(err, jetstream.ErrDigestMismatch):
				// Stored and deleted by an earlier delivery, expired, or
				// unusable: the result is recorded without it.
				log.Info("job artifacts not stored", "object", ev.ArtifactsObject, "err", err)
			default:
				retry(err, retryDelayOf(m))
				return
			}
		}
		var touched []int64
		err := store.InTx(ctx, w.pool, func(q *store.Queries) (err error) {
			if ev.Type == event.JobEventFinished {
				finished, err := q.FinishJob(ctx, ev.JobID, ev.Status, ev.ExitCode, ev.FailureReason, ev.Trace, ev.AllowFailure)
				if err != nil {
					return err
				}
				if finished && artifacts != nil {
					if _, err := q.InsertJobArtifacts(ctx, ev.JobID, artifacts); err != nil {
						return err
					}
				}
			}
			touched, err = pipeline.Advance(ctx, q, ev.PipelineID)
			return err
		})
		if err != nil {
			retry(err, retryDelayOf(m))
			return
		}
		if ev.Type == event.JobEventFinished && ev.ArtifactsObject != "" {
			// Best effort: the bucket's TTL removes what this leaves.
			if err := broker.DeleteArtifacts(ctx, w.js, ev.ArtifactsObject); err != nil {
				log.Warn("delete stored artifacts object", "object", ev.ArtifactsObject, "err", err)
			}
		}
		if err := pipeline.PublishPending(ctx, w.pool, w.js, touched...); err != nil {
			retry(err, time.Second)
			return
		}
		_ = m.Ack()
	default:
		log.Error("dropping job event of unknown type")
		_ = m.Term()
	}
}

func retryDelayOf(m jetstream.Msg) time.Duration {
	if md, err := m.Metadata(); err == nil {
		return retryDelay(md.NumDelivered)
	}
	return time.Second
}
