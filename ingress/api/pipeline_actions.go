package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/pipestate"
	"github.com/triggerd/triggerd/internal/store"
)

func (s *Server) routesPipelineActions(r *mux.Router) {
	r.Handle("/projects/{id}/pipelines/{pipeline_id}/cancel", s.handle(s.cancelPipeline)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/pipelines/{pipeline_id}/retry", s.handle(s.retryPipeline)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/jobs/{job_id}/cancel", s.handle(s.cancelJob)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/jobs/{job_id}/retry", s.handle(s.retryJob)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/jobs/{job_id}/play", s.handle(s.playJob)).Methods(http.MethodPost)
}

// stateJobs converts a pipeline's job rows for the processing rules.
func stateJobs(rows []store.JobState) []pipestate.Job {
	out := make([]pipestate.Job, len(rows))
	for i, r := range rows {
		out[i] = pipestate.Job{ID: r.ID, Name: r.Name, StageIdx: r.StageIdx, Status: r.Status, When: r.When,
			AllowFailure: r.AllowFailure, Retried: r.Retried}
	}
	return out
}

// changePipeline runs change on a locked pipeline, re-processes it, and
// after the commit tells the dispatchers and runners. change returns the
// jobs it canceled.
func (s *Server) changePipeline(ctx context.Context, projectID, pipelineID int64, change func(q *store.Queries, jobs []store.JobState) ([]int64, error)) error {
	var canceled []int64
	err := store.InTx(ctx, s.pool, func(q *store.Queries) error {
		if _, err := q.LockPipeline(ctx, pipelineID); err != nil {
			return err
		}
		jobs, err := q.JobStates(ctx, pipelineID)
		if err != nil {
			return err
		}
		if canceled, err = change(q, jobs); err != nil {
			return err
		}
		_, err = pipeline.Advance(ctx, q, pipelineID)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.pub.PipelineChanged(ctx, projectID, pipelineID, canceled); err != nil {
		// The change is committed; the dispatchers pick it up with the
		// next event of this pipeline. Say so rather than fail the call.
		s.log.WarnContext(ctx, "announce pipeline change", "pipeline_id", pipelineID, "err", err)
	}
	return nil
}

// cancelTransitions applies pipestate.Cancel and returns the running jobs it
// stopped, whose runners must be told.
func cancelTransitions(ctx context.Context, q *store.Queries, jobs []store.JobState, only map[int64]bool) ([]int64, error) {
	ts := pipestate.Cancel(stateJobs(jobs))
	status := map[int64]string{}
	for _, j := range jobs {
		status[j.ID] = j.Status
	}
	var ids []int64
	var to []string
	var running []int64
	for _, t := range ts {
		if only != nil && !only[t.JobID] {
			continue
		}
		ids, to = append(ids, t.JobID), append(to, t.To)
		if status[t.JobID] == "running" {
			running = append(running, t.JobID)
		}
	}
	return running, q.SetJobStatuses(ctx, ids, to)
}

func (s *Server) pipelineWriter(r *http.Request) (projectAccess, store.Pipeline, error) {
	pa, pl, err := s.pipeline(r)
	if err != nil {
		return pa, pl, err
	}
	if pa.Level < store.Developer {
		return pa, pl, errForbidden
	}
	return pa, pl, nil
}

func (s *Server) cancelPipeline(w http.ResponseWriter, r *http.Request) error {
	pa, pl, err := s.pipelineWriter(r)
	if err != nil {
		return err
	}
	err = s.changePipeline(r.Context(), pa.Project.ID, pl.ID, func(q *store.Queries, jobs []store.JobState) ([]int64, error) {
		return cancelTransitions(r.Context(), q, jobs, nil)
	})
	if err != nil {
		return err
	}
	return s.writePipeline(w, r, pa.Project.ID, pl.ID, http.StatusOK)
}

func (s *Server) retryPipeline(w http.ResponseWriter, r *http.Request) error {
	pa, pl, err := s.pipelineWriter(r)
	if err != nil {
		return err
	}
	err = s.changePipeline(r.Context(), pa.Project.ID, pl.ID, func(q *store.Queries, jobs []store.JobState) ([]int64, error) {
		clone, reset := pipestate.Retry(stateJobs(jobs))
		if len(clone) == 0 && len(reset) == 0 {
			return nil, messageError(http.StatusForbidden, "403 Forbidden")
		}
		if _, err := q.RetryJobs(r.Context(), clone); err != nil {
			return nil, err
		}
		to := make([]string, len(reset))
		for i := range to {
			to[i] = "created"
		}
		return nil, q.SetJobStatuses(r.Context(), reset, to)
	})
	if err != nil {
		return err
	}
	return s.writePipeline(w, r, pa.Project.ID, pl.ID, http.StatusCreated)
}

func (s *Server) writePipeline(w http.ResponseWriter, r *http.Request, projectID, id int64, status int) error {
	pl, err := s.q.PipelineByID(r.Context(), projectID, id)
	if err != nil {
		return err
	}
	writeJSON(w, status, entity.NewPipeline(s.cfg.ExternalURL, pl))
	return nil
}

// jobWriter resolves the route's job for a Developer.
func (s *Server) jobWriter(r *http.Request) (projectAccess, store.Job, error) {
	pa, err := s.pipelineReader(r)
	if err != nil {
		return pa, store.Job{}, err
	}
	if pa.Level < store.Developer {
		return pa, store.Job{}, errForbidden
	}
	id, err := idParam(r, "job_id")
	if err != nil {
		return pa, store.Job{}, err
	}
	j, err := s.q.JobByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return pa, j, notFound("Job")
	}
	return pa, j, err
}

func (s *Server) writeJob(w http.ResponseWriter, r *http.Request, projectID, id int64, status int) error {
	j, err := s.q.JobByID(r.Context(), projectID, id)
	if err != nil {
		return err
	}
	writeJSON(w, status, entity.NewJob(s.cfg.ExternalURL, j))
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	pa, j, err := s.jobWriter(r)
	if err != nil {
		return err
	}
	if pipestate.Finished(j.Status) {
		return messageError(http.StatusForbidden, "403 Forbidden - Job is not cancelable")
	}
	err = s.changePipeline(r.Context(), pa.Project.ID, j.PipelineID, func(q *store.Queries, jobs []store.JobState) ([]int64, error) {
		return cancelTransitions(r.Context(), q, jobs, map[int64]bool{j.ID: true})
	})
	if err != nil {
		return err
	}
	return s.writeJob(w, r, pa.Project.ID, j.ID, http.StatusCreated)
}

func (s *Server) retryJob(w http.ResponseWriter, r *http.Request) error {
	pa, j, err := s.jobWriter(r)
	if err != nil {
		return err
	}
	if j.Kind != "build" || !(j.Status == "failed" || j.Status == "canceled" || j.Status == "success") {
		return messageError(http.StatusForbidden, "403 Forbidden - Job is not retryable")
	}
	var newID int64
	err = s.changePipeline(r.Context(), pa.Project.ID, j.PipelineID, func(q *store.Queries, _ []store.JobState) ([]int64, error) {
		ids, err := q.RetryJobs(r.Context(), []int64{j.ID})
		if err != nil {
			return nil, err
		}
		if len(ids) != 1 {
			return nil, messageError(http.StatusForbidden, "403 Forbidden - Job is not retryable")
		}
		newID = ids[0]
		return nil, nil
	})
	if err != nil {
		return err
	}
	return s.writeJob(w, r, pa.Project.ID, newID, http.StatusCreated)
}

func (s *Server) playJob(w http.ResponseWriter, r *http.Request) error {
	pa, j, err := s.jobWriter(r)
	if err != nil {
		return err
	}
	if j.Status != "manual" {
		return badRequest("Unplayable Job")
	}
	err = s.changePipeline(r.Context(), pa.Project.ID, j.PipelineID, func(q *store.Queries, _ []store.JobState) ([]int64, error) {
		return nil, q.SetJobStatuses(r.Context(), []int64{j.ID}, []string{"pending"})
	})
	if err != nil {
		return err
	}
	return s.writeJob(w, r, pa.Project.ID, j.ID, http.StatusOK)
}
