package test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
)

// TestJobClaimAnsweredAgainAfterLostReply plays a runner whose claim answer
// was lost against the real dispatcher and ingress: the retry under the
// same claim id gets the job again, and its token is the job's CI job token
// for the API (a job-token trigger); the lost answer's token is not, and a
// claim under another id (the job message redelivered to another runner)
// is refused.
func TestJobClaimAnsweredAgainAfterLostReply(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "claim")
	p := s.CreateProject(t, owner, "build:\n  script: [echo hi]\n")
	tok := s.CreateTrigger(t, owner.Token, p.ID, "claim").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	var jobID int64
	eventually(t, 30*time.Second, "the job to be pending", func() bool {
		jobs := s.PipelineJobs(t, owner.Token, p.ID, created.ID)
		if len(jobs) == 1 && jobs[0].Status == "pending" {
			jobID = jobs[0].ID
			return true
		}
		return false
	})

	nc, err := nats.Connect(s.NATSURL)
	require.NoError(t, err)
	defer nc.Close()
	claim := func(runner, claimID string, attempt int) event.JobPayload {
		t.Helper()
		answer, err := broker.RequestClaim(nc, event.JobClaim{JobID: jobID, Runner: runner, ClaimID: claimID, Attempt: attempt}, 30*time.Second)
		require.NoError(t, err)
		return answer
	}
	lost := claim("runner-1", "claim-1", 1)
	require.True(t, lost.OK, lost.Reason)
	again := claim("runner-1", "claim-1", 2)
	require.True(t, again.OK, again.Reason)
	require.Equal(t, lost.JobID, again.JobID)
	require.Equal(t, []string{"echo hi"}, again.Script)
	refused := claim("runner-2", "claim-2", 1)
	require.False(t, refused.OK)
	require.Equal(t, event.ClaimRefused, refused.Reason)

	require.Equal(t, "running", s.PipelineJobs(t, owner.Token, p.ID, created.ID)[0].Status)

	// The job token of the answer the runner got works for the job's API
	// calls; the lost one's does not.
	r := s.TriggerPipeline(t, p.ID, lost.Token, "master", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Text())
	downstream := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, again.Token, "master", nil, nil), http.StatusCreated)
	require.Equal(t, "pipeline", downstream.Source)
	require.Equal(t, 2, s.PipelineCount(t, p.ID))
}
