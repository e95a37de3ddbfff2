package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// CI job tokens outside the trigger API: endpoints that GitLab opens to
// job tokens (route_setting :authentication, job_token_allowed: true) take
// one in the places GitLab's auth finders look, and admit it with the rules
// every job token follows: its job must be running, and it reaches its own
// project and the projects whose inbound allowlist names its project.
// authenticateJobToken (trigger.go) applies the same rules with the trigger
// API's own answers.

// errJobNotRunning is a job token whose job has finished (or not started).
var errJobNotRunning = messageError(http.StatusUnauthorized, "Job is not running")

// jobTokenOf returns the CI job token a request carries: the job_token or
// token query parameter, the JOB-TOKEN header, or HTTP basic auth as user
// gitlab-ci-token. "" when there is none.
func jobTokenOf(r *http.Request) string {
	q := r.URL.Query()
	if t := q.Get("job_token"); t != "" {
		return t
	}
	if t := r.Header.Get("Job-Token"); t != "" {
		return t
	}
	if user, pass, ok := r.BasicAuth(); ok && user == "gitlab-ci-token" && pass != "" {
		return pass
	}
	if t := q.Get("token"); strings.HasPrefix(t, secret.JobPrefix) {
		return t
	}
	return ""
}

// runningJobOfToken finds the job a CI job token (by its digest) was issued
// to. store.ErrNotFound when no job has it; errJobNotRunning when its job is
// not running, which is when a job token stops being valid.
func (s *Server) runningJobOfToken(ctx context.Context, digest []byte) (store.Job, error) {
	job, err := s.q.JobByTokenDigest(ctx, digest)
	if err != nil {
		return store.Job{}, err
	}
	if job.Status != "running" {
		return store.Job{}, errJobNotRunning
	}
	return job, nil
}

// jobTokenReaches reports whether job's token may be used against project
// projectID: its own project, or one whose inbound job token allowlist
// includes the job's project.
func (s *Server) jobTokenReaches(ctx context.Context, job store.Job, projectID int64) (bool, error) {
	if job.ProjectID == projectID {
		return true, nil
	}
	return s.q.AllowlistContains(ctx, projectID, job.ProjectID)
}

// jobTokenUserLevel is the access level a job token acts with in a
// project: its job's user's (Owner for an administrator), NoAccess for a
// job without a user. signedIn reports whether the job has a user.
func (s *Server) jobTokenUserLevel(ctx context.Context, job store.Job, projectID int64) (level int, signedIn bool, err error) {
	if job.UserID == nil {
		return store.NoAccess, false, nil
	}
	u, err := s.q.UserByID(ctx, *job.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.NoAccess, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if u.State != "active" {
		return store.NoAccess, false, nil
	}
	if u.IsAdmin {
		return store.Owner, true, nil
	}
	level, err = s.q.AccessLevel(ctx, u.ID, projectID)
	return level, true, err
}
