package test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

// TestCrashBetweenCommitAndAck kills a dispatcher right after it committed
// a pipeline and before it replied, published the jobs or acked the event.
// JetStream redelivers the event to a fresh dispatcher, which must find the
// committed pipeline instead of making a second one, and finish the work:
// first-stage jobs pending, event acked.
func TestCrashBetweenCommitAndAck(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{
		DispatcherEnv: []string{"DISPATCHER_CRASH_AFTER_COMMIT=true"},
		AckWait:       2 * time.Second,
	})
	owner := s.CreateUser(t, "crash")
	p := s.CreateProject(t, owner, docsCI)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "crash").Token

	_, js := testenv.JetStreamAt(t, s.NATSURL)
	consumerState := func() (ackPending int, pending uint64) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err := js.Consumer(ctx, event.TriggersStream, event.DispatcherConsumer)
		require.NoError(t, err)
		info, err := cons.Info(ctx)
		require.NoError(t, err)
		return info.NumAckPending, info.NumPending
	}

	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/trigger/pipeline?async=true", p.ID), "",
		url.Values{"token": {tok}, "ref": {"master"}, "variables[CRASH]": {"1"}})
	acc := decode[struct {
		EventID   string `json:"event_id"`
		Status    string `json:"status"`
		StatusURL string `json:"status_url"`
	}](t, r, http.StatusAccepted)
	require.NotEmpty(t, acc.EventID)
	require.Equal(t, "pending", acc.Status)
	require.Equal(t, acc.StatusURL, r.Header.Get("Location"))
	require.Equal(t, fmt.Sprintf("%s/api/v4/projects/%d/trigger/events/%s", s.URL, p.ID, acc.EventID), acc.StatusURL)

	// The faulty dispatcher commits, then exits with status 3.
	crashed := s.Dispatchers[0]
	require.True(t, crashed.WaitExit(30*time.Second), "the crash-after-commit dispatcher did not exit")
	require.Equal(t, 3, crashed.ExitCode(), "exit status of the crash-after-commit dispatcher")

	countByEvent := func() int {
		var n int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines WHERE event_id = $1`, acc.EventID).Scan(&n))
		return n
	}
	require.Equal(t, 1, countByEvent(), "the pipeline was committed before the crash")
	var pipelineID int64
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT id FROM pipelines WHERE event_id = $1`, acc.EventID).Scan(&pipelineID))
	// The first stage was released in the committing transaction, but
	// nothing after the commit happened: no job was handed to the runners
	// and the event is not acknowledged.
	statuses := map[string]string{}
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, pipelineID) {
		statuses[j.Name] = j.Status
	}
	require.Equal(t, map[string]string{"run_tests": "pending", "build_package": "created", "upload_package": "created"}, statuses)
	jobsOnStream := func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, event.JobsStream)
		require.NoError(t, err)
		info, err := st.Info(ctx)
		require.NoError(t, err)
		return info.State.LastSeq // every message ever stored, consumed or not
	}
	require.Zero(t, jobsOnStream(), "no job was published before the crash")
	ackPending, pending := consumerState()
	require.True(t, ackPending > 0 || pending > 0, "the event must still await its ack (ack pending %d, pending %d)", ackPending, pending)

	// A healthy dispatcher takes the redelivered event.
	fresh := s.StartDispatcher()

	statusURL := acc.StatusURL + "?token=" + url.QueryEscape(tok)
	var pl pipelineJSON
	eventually(t, 30*time.Second, "the status URL to answer 201", func() bool {
		r := s.Get(t, statusURL, "")
		if r.Status == http.StatusAccepted {
			return false
		}
		pl = decode[pipelineJSON](t, r, http.StatusCreated)
		return true
	})
	require.Equal(t, pipelineID, pl.ID)
	require.Equal(t, "trigger", pl.Source)
	require.Equal(t, "master", pl.Ref)

	eventually(t, 30*time.Second, "the redelivered event to be acknowledged", func() bool {
		ackPending, pending := consumerState()
		return ackPending == 0 && pending == 0
	})
	eventually(t, 10*time.Second, "the first stage to be handed to the runners", func() bool {
		return jobsOnStream() == 1
	})

	require.Equal(t, 1, countByEvent(), "SQL: exactly one pipeline for the event")
	pls := s.ListPipelines(t, owner.Token, p.ID, "")
	require.Len(t, pls, 1, "API: exactly one pipeline")
	require.Equal(t, pipelineID, pls[0].ID)
	require.Equal(t, "pending", pls[0].Status)
	statuses = map[string]string{}
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, pipelineID) {
		statuses[j.Name] = j.Status
	}
	require.Equal(t, map[string]string{"run_tests": "pending", "build_package": "created", "upload_package": "created"}, statuses)
	require.Equal(t, map[string]string{"CRASH": "1"}, s.PipelineVariables(t, owner.Token, p.ID, pipelineID))
	var jobs int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE pipeline_id = $1`, pipelineID).Scan(&jobs))
	require.Equal(t, 3, jobs, "no job was inserted twice")
	require.False(t, fresh.Exited(), "the healthy dispatcher keeps running")

	// The repaired stack keeps working: a plain trigger answers 201 at once.
	r = s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID), "", url.Values{"token": {tok}, "ref": {"master"}})
	next := decode[pipelineJSON](t, r, http.StatusCreated)
	require.NotEqual(t, pipelineID, next.ID)
}

// TestTriggerWaitBound stops the only dispatcher: a trigger is stored but
// cannot be decided, so after TRIGGER_WAIT the ingress answers 202 with a
// status URL (never a fake 201); once a dispatcher is back, the status URL
// answers 201 with the one pipeline.
func TestTriggerWaitBound(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{TriggerWait: 500 * time.Millisecond})
	owner := s.CreateUser(t, "wait")
	p := s.CreateProject(t, owner, docsCI)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "wait").Token

	s.KillDispatcher(0)
	start := time.Now()
	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID), "",
		url.Values{"token": {tok}, "ref": {"master"}})
	acc := decode[struct {
		EventID   string `json:"event_id"`
		Status    string `json:"status"`
		StatusURL string `json:"status_url"`
	}](t, r, http.StatusAccepted)
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "202 only once the wait bound passed")
	require.Equal(t, "pending", acc.Status)
	require.Equal(t, 0, s.PipelineCount(t, p.ID))

	// Still pending, seen by the project's owner through the status URL.
	pending := s.Get(t, acc.StatusURL, owner.Token)
	require.Equal(t, http.StatusAccepted, pending.Status, "body: %s", pending.Body)

	s.RestartDispatcher(0)
	var pl pipelineJSON
	eventually(t, 30*time.Second, "the status URL to answer 201", func() bool {
		r := s.Get(t, acc.StatusURL, owner.Token)
		if r.Status == http.StatusAccepted {
			return false
		}
		pl = decode[pipelineJSON](t, r, http.StatusCreated)
		return true
	})
	require.Equal(t, p.ID, pl.ProjectID)
	require.Equal(t, "trigger", pl.Source)
	require.Equal(t, 1, s.PipelineCount(t, p.ID))
	require.Len(t, s.ListPipelines(t, owner.Token, p.ID, ""), 1)
}
