package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

func (s *Server) routesPipelines(r *mux.Router) {
	r.Handle("/projects/{id}/pipelines", s.handle(s.listPipelines)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipelines/latest", s.handle(s.latestPipeline)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipelines/{pipeline_id}", s.handle(s.getPipeline)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipelines/{pipeline_id}/variables", s.handle(s.pipelineVariables)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipelines/{pipeline_id}/jobs", s.handle(s.pipelineJobs)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/pipelines/{pipeline_id}/bridges", s.handle(s.pipelineBridges)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/jobs/{job_id}", s.handle(s.getJob)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/jobs/{job_id}/trace", s.handle(s.jobTrace)).Methods(http.MethodGet)
}

// pipelineReader resolves the project for reading its pipelines: Reporter
// and up, or anyone who can see a public project.
func (s *Server) pipelineReader(r *http.Request) (projectAccess, error) {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return pa, err
	}
	if pa.Level < store.Reporter && pa.Project.Visibility != "public" {
		if pa.User == nil {
			return pa, errUnauthorized
		}
		return pa, errForbidden
	}
	return pa, nil
}

// idParam parses a numeric route variable with Grape's message.
func idParam(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(pathVar(r, name), 10, 64)
	if err != nil {
		return 0, paramError(name + " is invalid")
	}
	return id, nil
}

var pipelineStatuses = map[string]bool{
	"created": true, "waiting_for_resource": true, "preparing": true, "pending": true, "running": true,
	"success": true, "failed": true, "canceled": true, "skipped": true, "manual": true, "scheduled": true,
}

var pipelineSources = map[string]bool{
	"push": true, "web": true, "trigger": true, "schedule": true, "api": true, "external": true, "pipeline": true,
	"chat": true, "webide": true, "merge_request_event": true, "external_pull_request_event": true,
	"parent_pipeline": true, "ondemand_dast_scan": true, "ondemand_dast_validation": true, "security_orchestration_policy": true,
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.pipelineReader(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.PipelineFilter{
		ProjectID: pa.Project.ID, Source: q.Get("source"), Ref: q.Get("ref"), Status: q.Get("status"),
		SHA: q.Get("sha"), Username: q.Get("username"), Scope: q.Get("scope"), OrderBy: q.Get("order_by"), Sort: q.Get("sort"),
	}
	if f.Status != "" && !pipelineStatuses[f.Status] {
		return paramError("status does not have a valid value")
	}
	if f.Source != "" && !pipelineSources[f.Source] {
		return paramError("source does not have a valid value")
	}
	switch f.Scope {
	case "", "running", "pending", "finished", "branches", "tags":
	default:
		return paramError("scope does not have a valid value")
	}
	switch f.OrderBy {
	case "", "id", "status", "ref", "updated_at", "user_id":
	default:
		return paramError("order_by does not have a valid value")
	}
	switch f.Sort {
	case "", "asc", "desc":
	default:
		return paramError("sort does not have a valid value")
	}
	for name, dst := range map[string]**time.Time{"updated_after": &f.UpdatedAfter, "updated_before": &f.UpdatedBefore} {
		if v := q.Get(name); v != "" {
			t, err := parseDateTime(v)
			if err != nil {
				return paramError(name + " is invalid")
			}
			*dst = &t
		}
	}
	page := pageOf(r)
	pls, total, err := s.q.ListPipelines(r.Context(), f, page)
	if err != nil {
		return err
	}
	out := make([]entity.PipelineBasic, len(pls))
	for i, p := range pls {
		out[i] = entity.NewPipelineBasic(s.cfg.ExternalURL, p)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pipeline resolves the route's project and pipeline for a reader.
func (s *Server) pipeline(r *http.Request) (projectAccess, store.Pipeline, error) {
	pa, err := s.pipelineReader(r)
	if err != nil {
		return pa, store.Pipeline{}, err
	}
	id, err := idParam(r, "pipeline_id")
	if err != nil {
		return pa, store.Pipeline{}, err
	}
	pl, err := s.q.PipelineByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return pa, pl, errNotFound
	}
	return pa, pl, err
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	_, pl, err := s.pipeline(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPipeline(s.cfg.ExternalURL, pl))
	return nil
}

func (s *Server) latestPipeline(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.pipelineReader(r)
	if err != nil {
		return err
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" && pa.Project.DefaultBranch != nil {
		ref = *pa.Project.DefaultBranch
	}
	pls, _, err := s.q.ListPipelines(r.Context(), store.PipelineFilter{ProjectID: pa.Project.ID, Ref: ref}, store.Page{Number: 1, PerPage: 1})
	if err != nil {
		return err
	}
	if len(pls) == 0 {
		return errNotFound
	}
	pl, err := s.q.PipelineByID(r.Context(), pa.Project.ID, pls[0].ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPipeline(s.cfg.ExternalURL, pl))
	return nil
}

// pipelineVariables shows the variables a pipeline was created with, to
// Maintainers and the pipeline's own user only: they may hold secrets.
func (s *Server) pipelineVariables(w http.ResponseWriter, r *http.Request) error {
	pa, pl, err := s.pipeline(r)
	if err != nil {
		return err
	}
	owner := pa.User != nil && pl.UserID != nil && *pl.UserID == pa.User.ID
	if pa.Level < store.Maintainer && !owner {
		if pa.User == nil {
			return errUnauthorized
		}
		return errForbidden
	}
	vars, err := s.q.PipelineVariables(r.Context(), pl.ID)
	if err != nil {
		return err
	}
	if vars == nil {
		vars = []store.Variable{}
	}
	writeJSON(w, http.StatusOK, vars)
	return nil
}

var jobStatuses = map[string]bool{
	"created": true, "pending": true, "running": true, "failed": true, "success": true, "canceled": true,
	"skipped": true, "waiting_for_resource": true, "manual": true, "scheduled": true, "preparing": true,
}

// jobScopes reads scope / scope[] as GitLab's job lists do.
func jobScopes(r *http.Request) ([]string, error) {
	q := r.URL.Query()
	scopes := append(q["scope[]"], q["scope"]...)
	for _, sc := range scopes {
		if !jobStatuses[sc] {
			return nil, paramError("scope does not have a valid value")
		}
	}
	if scopes == nil {
		scopes = []string{}
	}
	return scopes, nil
}

func (s *Server) pipelineJobs(w http.ResponseWriter, r *http.Request) error {
	return s.pipelineJobList(w, r, "build")
}

func (s *Server) pipelineBridges(w http.ResponseWriter, r *http.Request) error {
	return s.pipelineJobList(w, r, "bridge")
}

func (s *Server) pipelineJobList(w http.ResponseWriter, r *http.Request, kind string) error {
	_, pl, err := s.pipeline(r)
	if err != nil {
		return err
	}
	scopes, err := jobScopes(r)
	if err != nil {
		return err
	}
	page := pageOf(r)
	jobs, total, err := s.q.JobsOfPipeline(r.Context(), pl.ID, kind, scopes, page)
	if err != nil {
		return err
	}
	s.setPageHeaders(w, r, page, total)
	if kind == "bridge" {
		out := make([]entity.Bridge, len(jobs))
		for i, j := range jobs {
			ds, err := s.downstreamOf(r, j)
			if err != nil {
				return err
			}
			out[i] = entity.NewBridge(s.cfg.ExternalURL, j, ds)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out := make([]entity.Job, len(jobs))
	for i, j := range jobs {
		out[i] = entity.NewJob(s.cfg.ExternalURL, j)
	}
	if err := s.jobEntitiesWithArtifacts(r.Context(), out); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// downstreamOf loads a bridge's downstream pipeline, if it has one.
func (s *Server) downstreamOf(r *http.Request, j store.Job) (*store.Pipeline, error) {
	if j.DownstreamPipelineID == nil {
		return nil, nil
	}
	pl, err := s.q.PipelineByIDAnyProject(r.Context(), *j.DownstreamPipelineID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &pl, nil
}

// job resolves the route's project and job for a reader.
func (s *Server) job(r *http.Request) (store.Job, error) {
	pa, err := s.pipelineReader(r)
	if err != nil {
		return store.Job{}, err
	}
	id, err := idParam(r, "job_id")
	if err != nil {
		return store.Job{}, err
	}
	j, err := s.q.JobByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, notFound("Job")
	}
	return j, err
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	if j.Kind == "bridge" {
		ds, err := s.downstreamOf(r, j)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, entity.NewBridge(s.cfg.ExternalURL, j, ds))
		return nil
	}
	out := []entity.Job{entity.NewJob(s.cfg.ExternalURL, j)}
	if err := s.jobEntitiesWithArtifacts(r.Context(), out); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

func (s *Server) jobTrace(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	trace, err := s.q.JobTrace(r.Context(), j.ProjectID, j.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Job")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	_, err = w.Write([]byte(trace))
	return err
}
