package test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// trace returns a job's log.
func (s *stack) trace(t *testing.T, token string, projectID, jobID int64) string {
	t.Helper()
	r := s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d/trace", projectID, jobID), token)
	require.Equal(t, http.StatusOK, r.Status, r.Text())
	return string(r.Body)
}

// ranCommand reports whether a simulated command ran, as opposed to only
// being echoed as part of its script line ("$ ...").
func ranCommand(trace, command string) bool {
	for _, line := range strings.Split(trace, "\n") {
		if strings.Contains(line, command) && !strings.HasPrefix(strings.TrimSpace(line), "$ ") {
			return true
		}
	}
	return false
}

// TestSeedPipelineRuns is GitLab's three-stage example, triggered with and
// without UPLOAD_TO_S3: every stage runs in order to success, and
// upload_package runs `make upload` only when the variable is set.
func TestSeedPipelineRuns(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "run")
	p := s.CreateProject(t, owner, docsCI)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "run").Token

	for _, upload := range []bool{true, false} {
		vars := map[string]string{}
		if upload {
			vars["UPLOAD_TO_S3"] = "true"
		}
		created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", vars, nil), http.StatusCreated)
		pl := s.WaitPipeline(t, owner.Token, p.ID, created.ID)
		require.Equal(t, "success", pl.Status, "upload=%v", upload)

		jobs := s.PipelineJobs(t, owner.Token, p.ID, created.ID)
		require.Len(t, jobs, 3)
		for _, j := range jobs {
			require.Equal(t, "success", j.Status, j.Name)
		}
		byName := map[string]jobDetail{}
		for _, j := range jobs {
			byName[j.Name] = decode[jobDetail](t, s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d", p.ID, j.ID), owner.Token), http.StatusOK)
		}
		// Stages ran in order: each started after the previous finished.
		require.False(t, byName["build_package"].StartedAt.Before(byName["run_tests"].FinishedAt))
		require.False(t, byName["upload_package"].StartedAt.Before(byName["build_package"].FinishedAt))

		tr := s.trace(t, owner.Token, p.ID, byName["upload_package"].ID)
		require.Contains(t, tr, `$ if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi`)
		require.Equal(t, upload, ranCommand(tr, "make upload"), "upload=%v, trace:\n%s", upload, tr)
		require.Contains(t, tr, "Job succeeded")
		require.True(t, ranCommand(s.trace(t, owner.Token, p.ID, byName["run_tests"].ID), "make test"))
	}
}

// jobDetail is the part of GitLab's Job entity these tests read.
type jobDetail struct {
	ID            int64              `json:"id"`
	Name          string             `json:"name"`
	Status        string             `json:"status"`
	StartedAt     time.Time          `json:"started_at"`
	FinishedAt    time.Time          `json:"finished_at"`
	FailureReason *string            `json:"failure_reason"`
	Pipeline      struct{ ID int64 } `json:"pipeline"`
}

// TestFailureSkipsLaterStagesAndRetry: a failing job fails the pipeline and
// skips what depends on it; on_failure and always jobs run; a retry of the
// pipeline makes a new attempt.
func TestFailureSkipsLaterStagesAndRetry(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "fail")
	p := s.CreateProject(t, owner, `stages: [test, deploy]
unit:
  stage: test
  script:
    - echo testing
    - if [ "$PASS" = "yes" ]; then true; else exit 3; fi
lint:
  stage: test
  allow_failure: true
  script: ["false"]
deploy:
  stage: deploy
  script: [echo deploying]
cleanup:
  stage: deploy
  when: on_failure
  script: [echo cleaning]
`)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "fail").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	pl := s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	require.Equal(t, "failed", pl.Status)
	st := jobStatuses(s.PipelineJobs(t, owner.Token, p.ID, created.ID))
	require.Equal(t, map[string]string{"unit": "failed", "lint": "failed", "deploy": "skipped", "cleanup": "success"}, st)
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, created.ID) {
		if j.Name == "unit" {
			d := decode[jobDetail](t, s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d", p.ID, j.ID), owner.Token), http.StatusOK)
			require.NotNil(t, d.FailureReason)
			require.Equal(t, "script_failure", *d.FailureReason)
			require.Contains(t, s.trace(t, owner.Token, p.ID, j.ID), "exit code 3")
		}
	}

	// Retrying the pipeline runs the failed jobs again (still failing).
	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/pipelines/%d/retry", p.ID, created.ID), owner.Token, url.Values{})
	require.Equal(t, http.StatusCreated, r.Status, r.Text())
	pl = s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	require.Equal(t, "failed", pl.Status)
	var attempts int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE pipeline_id = $1 AND name = 'unit'`, created.ID).Scan(&attempts))
	require.Equal(t, 2, attempts, "a retry is a new attempt of the job")
}

func jobStatuses(jobs []jobJSON) map[string]string {
	out := map[string]string{}
	for _, j := range jobs {
		out[j.Name] = j.Status
	}
	return out
}

// TestCancelStopsRunningJob: canceling a pipeline stops its running job at
// once and cancels what had not run.
func TestCancelStopsRunningJob(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "cancel")
	p := s.CreateProject(t, owner, `slow:
  stage: build
  script: [sleep 60]
after:
  stage: test
  script: [echo never]
`)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "cancel").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	eventually(t, 30*time.Second, "the slow job to run", func() bool {
		return jobStatuses(s.PipelineJobs(t, owner.Token, p.ID, created.ID))["slow"] == "running"
	})
	start := time.Now()
	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/pipelines/%d/cancel", p.ID, created.ID), owner.Token, url.Values{})
	require.Equal(t, http.StatusOK, r.Status, r.Text())
	pl := s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	require.Equal(t, "canceled", pl.Status)
	require.Less(t, time.Since(start), 30*time.Second)
	require.Equal(t, map[string]string{"slow": "canceled", "after": "canceled"}, jobStatuses(s.PipelineJobs(t, owner.Token, p.ID, created.ID)))
}

// TestJobTokenTriggersDownstream is the docs' multi-project example: a tag
// pipeline of A runs build_docs, which calls B's trigger API with
// $CI_JOB_TOKEN. With A on B's inbound allowlist, B gets a pipeline with
// source "pipeline" linked to A's job; without it, the job fails and B gets
// nothing.
func TestJobTokenTriggersDownstream(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "multi")
	b := s.CreateProject(t, owner, "docs:\n  script: [echo building docs]\n")
	a := s.CreateProject(t, owner, fmt.Sprintf(`build_docs:
  stage: deploy
  script:
  - curl --fail --request POST --form "token=$CI_JOB_TOKEN" --form ref=master %s/api/v4/projects/%d/trigger/pipeline
  only:
  - tags
`, s.URL, b.ID))
	s.CreateTag(t, owner.Token, a.ID, "v1.0", "master")
	tokA := s.CreateTrigger(t, owner.Token, a.ID, "a").Token

	// Not allowlisted: the job's curl gets a 404 and fails; B has nothing.
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, a.ID, tokA, "v1.0", nil, nil), http.StatusCreated)
	pl := s.WaitPipeline(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "failed", pl.Status)
	require.Zero(t, s.PipelineCount(t, b.ID))

	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/job_token_scope/allowlist", b.ID), owner.Token,
		url.Values{"target_project_id": {fmt.Sprint(a.ID)}})
	require.Equal(t, http.StatusCreated, r.Status, r.Text())

	created = decode[pipelineJSON](t, s.TriggerPipeline(t, a.ID, tokA, "v1.0", nil, nil), http.StatusCreated)
	pl = s.WaitPipeline(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "success", pl.Status)
	downstream := s.ListPipelines(t, owner.Token, b.ID, "")
	require.Len(t, downstream, 1)
	require.Equal(t, "pipeline", downstream[0].Source)
	jobs := s.PipelineJobs(t, owner.Token, a.ID, created.ID)
	require.Len(t, jobs, 1)
	var upJob, upPipeline, upProject int64
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT upstream_job_id, upstream_pipeline_id, upstream_project_id FROM pipelines WHERE id = $1`, downstream[0].ID).
		Scan(&upJob, &upPipeline, &upProject))
	require.Equal(t, []int64{jobs[0].ID, created.ID, a.ID}, []int64{upJob, upPipeline, upProject})
	dpl := s.WaitPipeline(t, owner.Token, b.ID, downstream[0].ID)
	require.Equal(t, "success", dpl.Status)

	// The job token died with its job.
	var digest []byte
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT token_digest FROM jobs WHERE id = $1`, jobs[0].ID).Scan(&digest))
	require.NotEmpty(t, digest, "the token is kept only as a digest")
}

// TestManyPipelinesTwoRunnersTwoDispatchers runs a batch of pipelines on two
// runner-sims and two dispatchers: every job runs exactly once and none is
// left behind.
func TestManyPipelinesTwoRunnersTwoDispatchers(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 2, Dispatchers: 2, RunnerEnv: []string{"RUNNER_COMMAND_DURATION=0s", "RUNNER_CONCURRENCY=8"}})
	owner := s.CreateUser(t, "batch")
	p := s.CreateProject(t, owner, "stages: [a, b]\none:\n  stage: a\n  script: [echo one]\ntwo:\n  stage: a\n  script: [echo two]\nthree:\n  stage: b\n  script: [echo three]\n")
	tok := s.CreateTrigger(t, owner.Token, p.ID, "batch").Token
	const n = 200
	for i := 0; i < n; i++ {
		r := s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline?async=true", p.ID),
			Form: url.Values{"token": {tok}, "ref": {"master"}}})
		require.Equal(t, http.StatusAccepted, r.Status, r.Text())
	}
	eventually(t, 120*time.Second, "every pipeline to succeed", func() bool {
		var done int
		require.NoError(t, s.DB.QueryRow(context.Background(),
			`SELECT count(*) FROM pipelines WHERE project_id = $1 AND status = 'success'`, p.ID).Scan(&done))
		return done == n
	})
	var jobs, distinctRuns, notSuccess int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status <> 'success')
		FROM jobs WHERE project_id = $1`, p.ID).Scan(&jobs, &distinctRuns, &notSuccess))
	require.Equal(t, 3*n, jobs, "no job was created twice")
	require.Zero(t, notSuccess)
	// A job run twice would have two "Job succeeded" lines in its log (the
	// result replaces the log, so count the runs recorded by the runners).
	var runTwice int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE project_id = $1
		AND (length(trace) - length(replace(trace, 'Running with triggerd runner-sim', ''))) / length('Running with triggerd runner-sim') <> 1`, p.ID).Scan(&runTwice))
	require.Zero(t, runTwice)
	var runners int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(DISTINCT runner) FROM jobs WHERE project_id = $1`, p.ID).Scan(&runners))
	require.Equal(t, 2, runners, "both runners took jobs")
}

// TestPlayManualAndRetryJob: a manual job waits without blocking; playing
// it runs it; retrying a job runs a new attempt of it.
func TestPlayManualAndRetryJob(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "play")
	p := s.CreateProject(t, owner, "build:\n  stage: build\n  script: [echo built]\ndeploy:\n  stage: deploy\n  when: manual\n  script: [echo deployed]\n")
	tok := s.CreateTrigger(t, owner.Token, p.ID, "play").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	pl := s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	require.Equal(t, "success", pl.Status, "a manual job with allow_failure does not hold the pipeline")
	var deployID, buildID int64
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, created.ID) {
		switch j.Name {
		case "deploy":
			deployID = j.ID
			require.Equal(t, "manual", j.Status)
		case "build":
			buildID = j.ID
		}
	}
	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/jobs/%d/play", p.ID, buildID), owner.Token, url.Values{})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.JSONEq(t, `{"message":"400 Bad request - Unplayable Job"}`, r.Text())

	r = s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/jobs/%d/play", p.ID, deployID), owner.Token, url.Values{})
	require.Equal(t, http.StatusOK, r.Status, r.Text())
	eventually(t, 30*time.Second, "the played job to succeed", func() bool {
		d := decode[jobDetail](t, s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d", p.ID, deployID), owner.Token), http.StatusOK)
		return d.Status == "success"
	})
	require.Contains(t, s.trace(t, owner.Token, p.ID, deployID), "deployed")

	r = s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/jobs/%d/retry", p.ID, buildID), owner.Token, url.Values{})
	require.Equal(t, http.StatusCreated, r.Status, r.Text())
	retried := decode[jobDetail](t, r, http.StatusCreated)
	require.NotEqual(t, buildID, retried.ID)
	eventually(t, 30*time.Second, "the new attempt to succeed", func() bool {
		d := decode[jobDetail](t, s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d", p.ID, retried.ID), owner.Token), http.StatusOK)
		return d.Status == "success"
	})
}

// TestAllowedFailureIsSuccessWithWarnings: a pipeline whose only failure is
// an allow_failure job succeeds, shown as "passed with warnings".
func TestAllowedFailureIsSuccessWithWarnings(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "warn")
	p := s.CreateProject(t, owner, "flaky:\n  stage: test\n  allow_failure: true\n  script: [exit 1]\nship:\n  stage: deploy\n  script: [echo shipped]\n")
	tok := s.CreateTrigger(t, owner.Token, p.ID, "warn").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	pl := s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	require.Equal(t, "success", pl.Status)
	full := decode[struct {
		DetailedStatus struct {
			Group string `json:"group"`
			Label string `json:"label"`
		} `json:"detailed_status"`
	}](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", p.ID, created.ID), owner.Token), http.StatusOK)
	require.Equal(t, "success-with-warnings", full.DetailedStatus.Group)
	require.Equal(t, "passed with warnings", full.DetailedStatus.Label)
	require.Equal(t, map[string]string{"flaky": "failed", "ship": "success"}, jobStatuses(s.PipelineJobs(t, owner.Token, p.ID, created.ID)))
}
