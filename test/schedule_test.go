package test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSchedulePlayCreatesSchedulePipeline: playing a schedule creates an
// ordinary pipeline with source schedule, as its owner, with its variables;
// only/except schedules and rules on CI_PIPELINE_SOURCE are evaluated; a
// schedule whose owner lost access creates nothing and says why.
func TestSchedulePlayCreatesSchedulePipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "sched")
	p := s.CreateProject(t, owner, `nightly:
  script: [echo nightly]
  only: [schedules]
by_rule:
  script: [echo rule]
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule" && $NIGHTLY == "yes"
on_push_only:
  script: [echo push]
  except: [schedules]
`)
	dev := s.CreateUser(t, "schedev")
	s.AddMember(t, owner.Token, p.ID, dev, 30)
	var schedID int64
	require.NoError(t, s.DB.QueryRow(context.Background(), `INSERT INTO pipeline_schedules (project_id, owner_id, description, ref, cron, next_run_at)
		VALUES ($1, $2, 'nightly', 'master', '0 0 * * *', now() + interval '1 day') RETURNING id`, p.ID, dev.ID).Scan(&schedID))
	_, err := s.DB.Exec(context.Background(), `INSERT INTO pipeline_schedule_variables (schedule_id, key, value) VALUES ($1, 'NIGHTLY', 'yes')`, schedID)
	require.NoError(t, err)

	play := func(token string) reply {
		return s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/pipeline_schedules/%d/play", p.ID, schedID), token, url.Values{})
	}
	r := play(owner.Token)
	require.Equal(t, http.StatusCreated, r.Status, r.Text())
	require.JSONEq(t, `{"message":"201 Created"}`, r.Text())
	var pls []pipelineJSON
	eventually(t, 30*time.Second, "the schedule pipeline", func() bool {
		pls = s.ListPipelines(t, owner.Token, p.ID, "source=schedule")
		return len(pls) == 1
	})
	require.Equal(t, "schedule", pls[0].Source)
	require.Equal(t, "master", pls[0].Ref)
	full := decode[pipelineJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", p.ID, pls[0].ID), owner.Token), http.StatusOK)
	require.NotNil(t, full.User)
	require.Equal(t, dev.Username, full.User.Username, "the schedule's owner is the pipeline's user")
	names := map[string]bool{}
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, pls[0].ID) {
		names[j.Name] = true
	}
	require.Equal(t, map[string]bool{"nightly": true, "by_rule": true}, names)
	var linked int64
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT schedule_id FROM pipelines WHERE id = $1`, pls[0].ID).Scan(&linked))
	require.Equal(t, schedID, linked)

	// Unknown schedule; no access to play.
	r = s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/pipeline_schedules/999999/play", p.ID), owner.Token, url.Values{})
	require.Equal(t, http.StatusNotFound, r.Status)
	require.JSONEq(t, `{"message":"404 Pipeline Schedule Not Found"}`, r.Text())

	// The owner leaves the project: a run creates nothing and the schedule
	// records why.
	r = s.Do(t, call{Method: http.MethodDelete, Path: fmt.Sprintf("/projects/%d/members/%d", p.ID, dev.ID), Token: owner.Token})
	require.Equal(t, http.StatusNoContent, r.Status, r.Text())
	require.Equal(t, http.StatusCreated, play(owner.Token).Status)
	var lastError *string
	eventually(t, 30*time.Second, "the schedule to record why it did not run", func() bool {
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT last_error FROM pipeline_schedules WHERE id = $1`, schedID).Scan(&lastError))
		return lastError != nil
	})
	require.Contains(t, *lastError, "cannot run pipelines")
	shown := decode[struct {
		LastError string `json:"last_error"`
	}](t, s.Get(t, fmt.Sprintf("/projects/%d/pipeline_schedules/%d", p.ID, schedID), owner.Token), http.StatusOK)
	require.Equal(t, *lastError, shown.LastError, "the schedule shows why it did not run")
	require.Len(t, s.ListPipelines(t, owner.Token, p.ID, "source=schedule"), 1)
}
