package test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

// bridgeJSON is the part of GitLab's Bridge entity these tests read.
type bridgeJSON struct {
	ID                 int64  `json:"id"`
	Name               string `json:"name"`
	Status             string `json:"status"`
	FailureReason      string `json:"failure_reason"`
	DownstreamPipeline *struct {
		ID        int64  `json:"id"`
		ProjectID int64  `json:"project_id"`
		Ref       string `json:"ref"`
		Status    string `json:"status"`
		Source    string `json:"source"`
	} `json:"downstream_pipeline"`
}

// bridges reads a pipeline's bridges through the API.
func (s *stack) bridges(t testing.TB, token string, projectID, pipelineID int64) []bridgeJSON {
	t.Helper()
	return decode[[]bridgeJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d/bridges?per_page=100", projectID, pipelineID), token), http.StatusOK)
}

// jobsOnStream counts the messages on the JOBS stream.
func (s *stack) jobsOnStream(t testing.TB) int {
	t.Helper()
	_, js := testenv.JetStreamAt(t, s.NATSURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, event.JobsStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	return int(info.State.Msgs)
}

// onlyPipeline waits for a project's one pipeline and returns it.
func (s *stack) onlyPipeline(t *testing.T, token string, projectID int64) pipelineJSON {
	t.Helper()
	var pls []pipelineJSON
	eventually(t, 30*time.Second, fmt.Sprintf("a pipeline of project %d", projectID), func() bool {
		pls = s.ListPipelines(t, token, projectID, "")
		return len(pls) > 0
	})
	require.Len(t, pls, 1)
	return pls[0]
}

// TestBridgeDependChainFailsUpward is a chain of three projects, A → B → C,
// each triggering the next with strategy: depend. C's job fails, and the
// failure climbs: every bridge and every pipeline ends failed, and each
// bridge shows its downstream pipeline.
func TestBridgeDependChainFailsUpward(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "chain")
	c := s.CreateProject(t, owner, "fail:\n  script: [exit 1]\n")
	b := s.CreateProject(t, owner, fmt.Sprintf("to_c:\n  trigger:\n    project: %s\n    strategy: depend\n", c.Path))
	a := s.CreateProject(t, owner, fmt.Sprintf("to_b:\n  trigger:\n    project: %s\n    strategy: depend\n", b.Path))
	tok := s.CreateTrigger(t, owner.Token, a.ID, "chain").Token

	created := decode[pipelineJSON](t, s.TriggerPipeline(t, a.ID, tok, "master", nil, nil), http.StatusCreated)
	plA := s.WaitPipeline(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "failed", plA.Status)

	plB := s.onlyPipeline(t, owner.Token, b.ID)
	plC := s.onlyPipeline(t, owner.Token, c.ID)
	for _, link := range []struct {
		project    project
		pipeline   int64
		downstream pipelineJSON
	}{{a, plA.ID, plB}, {b, plB.ID, plC}} {
		require.Equal(t, "pipeline", link.downstream.Source)
		require.Equal(t, "failed", link.downstream.Status)
		br := s.bridges(t, owner.Token, link.project.ID, link.pipeline)
		require.Len(t, br, 1)
		require.Equal(t, "failed", br[0].Status)
		require.NotNil(t, br[0].DownstreamPipeline, "bridge of %s", link.project.Path)
		require.Equal(t, link.downstream.ID, br[0].DownstreamPipeline.ID)
		require.Equal(t, link.downstream.ProjectID, br[0].DownstreamPipeline.ProjectID)
		require.Equal(t, "failed", br[0].DownstreamPipeline.Status)
	}
	jobs := s.PipelineJobs(t, owner.Token, c.ID, plC.ID)
	require.Len(t, jobs, 1)
	require.Equal(t, "failed", jobs[0].Status)
	var depth int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT depth FROM pipelines WHERE id = $1`, plC.ID).Scan(&depth))
	require.Equal(t, 2, depth)
}

// TestBridgeWaitsForDownstreamRef triggers A, whose bridge targets a branch
// of B that does not exist yet; the branch is created two seconds later. The
// fan-out is retried with backoff instead of failing, and B gets exactly one
// pipeline, on that branch, linked to the bridge.
func TestBridgeWaitsForDownstreamRef(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{DispatcherEnv: []string{"BRIDGE_RETRY_INITIAL=200ms", "BRIDGE_RETRY_MAX_ELAPSED=1m"}})
	owner := s.CreateUser(t, "late")
	b := s.CreateProject(t, owner, "build:\n  script: [echo b]\n")
	a := s.CreateProject(t, owner, fmt.Sprintf("to_b:\n  trigger:\n    project: %s\n    branch: late-branch\n", b.Path))
	tok := s.CreateTrigger(t, owner.Token, a.ID, "late").Token

	created := decode[pipelineJSON](t, s.TriggerPipeline(t, a.ID, tok, "master", nil, nil), http.StatusCreated)
	var bridgeID int64
	eventually(t, 10*time.Second, "the bridge to be released", func() bool {
		br := s.bridges(t, owner.Token, a.ID, created.ID)
		require.Len(t, br, 1)
		bridgeID = br[0].ID
		return br[0].Status == "pending"
	})
	time.Sleep(2 * time.Second) // the branch is pushed two seconds after the bridge started
	br := s.bridges(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "pending", br[0].Status, "still waiting, not failed")
	require.Zero(t, s.PipelineCount(t, b.ID))
	var rejections int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM trigger_rejections WHERE event_id = $1`,
		fmt.Sprintf("bridge-%d", bridgeID)).Scan(&rejections))
	require.Zero(t, rejections, "a missing ref is not a rejection")

	s.CreateBranch(t, owner.Token, b.ID, "late-branch", "master")
	plA := s.WaitPipeline(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "success", plA.Status)
	br = s.bridges(t, owner.Token, a.ID, created.ID)
	require.Equal(t, "success", br[0].Status)
	require.NotNil(t, br[0].DownstreamPipeline)
	require.Equal(t, "late-branch", br[0].DownstreamPipeline.Ref)

	down := s.ListPipelines(t, owner.Token, b.ID, "")
	require.Len(t, down, 1, "exactly one downstream pipeline")
	require.Equal(t, br[0].DownstreamPipeline.ID, down[0].ID)
	require.Equal(t, "pipeline", down[0].Source)
	detail := decode[pipelineJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", b.ID, down[0].ID), owner.Token), http.StatusOK)
	require.NotNil(t, detail.User)
	require.Equal(t, owner.Username, detail.User.Username, "the bridge's user")
	// Nothing more comes later either.
	time.Sleep(time.Second)
	require.Equal(t, 1, s.PipelineCount(t, b.ID))
}

// TestBridgeFanOutSurvivesDispatcherKill fans one pipeline out to ten
// projects in one stage while dispatchers die: the first exits right after
// committing the upstream pipeline, before publishing its bridges; of the
// two that take over, one is killed with SIGKILL as soon as the first
// downstream pipeline exists, while the other bridges are in flight. Every
// bridge ends with exactly one downstream pipeline, whose jobs were
// released.
func TestBridgeFanOutSurvivesDispatcherKill(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{DispatcherEnv: []string{"DISPATCHER_CRASH_AFTER_COMMIT=true"}, AckWait: 2 * time.Second})
	owner := s.CreateUser(t, "fan")
	const n = 10
	var ci strings.Builder
	ci.WriteString("stages: [fan]\n")
	downstream := make([]project, n)
	for i := range downstream {
		downstream[i] = s.CreateProject(t, owner, "build:\n  script: [echo down]\n")
		fmt.Fprintf(&ci, "to_%d:\n  stage: fan\n  trigger: %s\n", i, downstream[i].Path)
	}
	a := s.CreateProject(t, owner, ci.String())
	tok := s.CreateTrigger(t, owner.Token, a.ID, "fan").Token

	r := s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline?async=true", a.ID),
		JSON: map[string]string{"token": tok, "ref": "master"}})
	require.Equal(t, http.StatusAccepted, r.Status, r.Text())
	require.True(t, s.Dispatchers[0].WaitExit(30*time.Second), "the faulty dispatcher did not take the event")
	require.Equal(t, 3, s.Dispatchers[0].ExitCode())
	var upstreamID int64
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT id FROM pipelines WHERE project_id = $1`, a.ID).Scan(&upstreamID))
	linked := func() int {
		var k int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs
			WHERE pipeline_id = $1 AND kind = 'bridge' AND downstream_pipeline_id IS NOT NULL`, upstreamID).Scan(&k))
		return k
	}
	require.Zero(t, linked(), "committed, but the bridges were not published")

	// Two dispatchers take over; the redelivered event publishes the
	// bridges. Kill one as soon as the first downstream exists.
	s.Dispatchers[0] = s.StartDispatcher()
	s.Dispatchers = append(s.Dispatchers, s.StartDispatcher())
	deadline := time.Now().Add(30 * time.Second)
	for linked() == 0 {
		require.True(t, time.Now().Before(deadline), "no bridge was processed within 30s")
		time.Sleep(5 * time.Millisecond)
	}
	s.KillDispatcher(0)
	t.Logf("killed a dispatcher with %d of %d bridges linked", linked(), n)
	s.Dispatchers[0] = s.StartDispatcher()

	plA := s.WaitPipeline(t, owner.Token, a.ID, upstreamID)
	require.Equal(t, "success", plA.Status)

	br := s.bridges(t, owner.Token, a.ID, upstreamID)
	require.Len(t, br, n)
	seen := map[int64]bool{}
	for _, b := range br {
		require.Equal(t, "success", b.Status, b.Name)
		require.NotNil(t, b.DownstreamPipeline, b.Name)
		require.False(t, seen[b.DownstreamPipeline.ProjectID], "two bridges made pipelines in one project")
		seen[b.DownstreamPipeline.ProjectID] = true
	}
	for _, p := range downstream {
		require.True(t, seen[p.ID], p.Path)
		require.Equal(t, 1, s.PipelineCount(t, p.ID), "exactly one downstream pipeline in %s", p.Path)
	}
	// Every downstream pipeline's first job was released and reached JOBS
	// (the runner consumer has them all waiting: no runner runs here).
	var pendingJobs int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs j JOIN pipelines pl ON pl.id = j.pipeline_id
		WHERE pl.upstream_pipeline_id = $1 AND j.status = 'pending'`, upstreamID).Scan(&pendingJobs))
	require.Equal(t, n, pendingJobs)
	eventually(t, 10*time.Second, "every downstream job on JOBS", func() bool {
		return s.jobsOnStream(t) == n
	})
}
