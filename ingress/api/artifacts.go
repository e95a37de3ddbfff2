package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// GitLab's Job Artifacts API, the downloads: a job's archive by job id, and
// the archive of the latest successful job of a name on a ref, which is how
// one pipeline uses another's artifacts (with $CI_JOB_TOKEN, across
// projects that allow it).
func (s *Server) routesArtifacts(r *mux.Router) {
	// The ref may hold slashes (feature/x), encoded or not.
	r.Handle("/projects/{id}/jobs/artifacts/{ref_name:.+}/download", s.handle(s.downloadRefArtifacts)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/jobs/{job_id}/artifacts", s.handle(s.downloadJobArtifacts)).Methods(http.MethodGet)
}

// errRecordNotFound is GitLab's answer when a record lookup fails
// (ActiveRecord::RecordNotFound): "404 Not found", lower-case f.
var errRecordNotFound = messageError(http.StatusNotFound, "404 Not found")

// artifactsReader resolves the route's project for downloading artifacts.
// With a CI job token: its job must be running (else 401), the project must
// be the job's or allow the job's project on its inbound allowlist (else
// "404 Project Not Found", as GitLab hides it), and the job's user must be
// able to read the project's jobs. Otherwise the personal access token's
// user (or anonymous) must be Reporter or above, or the project public.
func (s *Server) artifactsReader(r *http.Request) (store.Project, error) {
	tok := jobTokenOf(r)
	if tok == "" {
		pa, err := s.pipelineReader(r)
		return pa.Project, err
	}
	ctx := r.Context()
	job, err := s.runningJobOfToken(ctx, secret.Digest(tok))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errJobNotRunning) {
		return store.Project{}, errUnauthorized
	}
	if err != nil {
		return store.Project{}, err
	}
	p, err := s.lookupProject(ctx, pathVar(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Project{}, notFound("Project")
	}
	if err != nil {
		return store.Project{}, err
	}
	ok, err := s.jobTokenReaches(ctx, job, p.ID)
	if err != nil {
		return store.Project{}, err
	}
	if !ok {
		return store.Project{}, notFound("Project")
	}
	level, signedIn, err := s.jobTokenUserLevel(ctx, job, p.ID)
	if err != nil {
		return store.Project{}, err
	}
	visible := level > store.NoAccess || p.Visibility == "public" || (p.Visibility == "internal" && signedIn)
	if !visible {
		return store.Project{}, notFound("Project")
	}
	if level < store.Reporter && p.Visibility != "public" {
		return store.Project{}, errForbidden
	}
	return p, nil
}

// downloadRefArtifacts serves GET /projects/:id/jobs/artifacts/:ref_name/download?job=NAME:
// the archive of job NAME in the latest successful pipeline of the ref, or
// with search_recent_successful_pipelines=true the latest such job with an
// archive in any successful pipeline of the ref.
func (s *Server) downloadRefArtifacts(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	name, err := p.requiredString("job")
	if err != nil {
		return err
	}
	recent, _, err := p.optionalBool("search_recent_successful_pipelines")
	if err != nil {
		return err
	}
	project, err := s.artifactsReader(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ref := pathVar(r, "ref_name")
	var jobID int64
	if recent {
		jobID, err = s.q.RecentArtifactsJob(ctx, project.ID, ref, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Job")
		}
	} else {
		jobID, err = s.q.LatestSuccessfulArtifactsJob(ctx, project.ID, ref, name)
		if errors.Is(err, store.ErrNotFound) {
			return errRecordNotFound // "Couldn't find job NAME"
		}
	}
	if err != nil {
		return err
	}
	return s.writeArtifacts(w, r, project.ID, jobID)
}

// downloadJobArtifacts serves GET /projects/:id/jobs/:job_id/artifacts.
func (s *Server) downloadJobArtifacts(w http.ResponseWriter, r *http.Request) error {
	jobID, err := idParam(r, "job_id")
	if err != nil {
		return err
	}
	project, err := s.artifactsReader(r)
	if err != nil {
		return err
	}
	if _, err := s.q.JobByID(r.Context(), project.ID, jobID); errors.Is(err, store.ErrNotFound) {
		return errRecordNotFound
	} else if err != nil {
		return err
	}
	return s.writeArtifacts(w, r, project.ID, jobID)
}

// writeArtifacts answers with a job's archive, or GitLab's plain
// "404 Not Found" when the job has none (or it expired).
func (s *Server) writeArtifacts(w http.ResponseWriter, r *http.Request, projectID, jobID int64) error {
	a, err := s.q.ArtifactsArchive(r.Context(), projectID, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.FileName))
	h.Set("Content-Length", strconv.Itoa(len(a.Content)))
	h.Set("Cache-Control", "private")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(a.Content)
	return err
}

// jobEntitiesWithArtifacts fills in the artifacts fields of rendered jobs,
// with one query for the whole list. Job lists and GET /jobs/:id call it
// on what entity.NewJob rendered.
func (s *Server) jobEntitiesWithArtifacts(ctx context.Context, jobs []entity.Job) error {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	arts, err := s.q.ArtifactsOfJobs(ctx, ids)
	if err != nil {
		return err
	}
	for i := range jobs {
		if a, ok := arts[jobs[i].ID]; ok {
			jobs[i].SetArtifacts(a)
		}
	}
	return nil
}
