package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

// routesAllowlist registers the CI/CD job token scope of a project: its
// settings and its inbound allowlist, the projects whose jobs may use their
// CI_JOB_TOKEN against it (to trigger its pipelines, among others).
func (s *Server) routesAllowlist(r *mux.Router) {
	r.Handle("/projects/{id}/job_token_scope", s.handle(s.getJobTokenScope)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/job_token_scope/allowlist", s.handle(s.listAllowlist)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/job_token_scope/allowlist", s.handle(s.addToAllowlist)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/job_token_scope/allowlist/{target_project_id}", s.handle(s.removeFromAllowlist)).
		Methods(http.MethodDelete)
}

// GitLab's answers when editing the allowlist fails.
const (
	msgTargetUnreachable = "The target_project that you are attempting to access does not exist or you don't have permission to perform this action"
	msgTargetIsSource    = "Validation failed: Target project can't be the same as the source project"
	msgTargetInScope     = "Target project is already in the job token scope"
	msgTargetNotInScope  = "Target project is not in the job token scope"
	msgSourceNotRemoved  = "Source project cannot be removed from the job token scope"
	msgScopeForbidden    = "403 Forbidden - Insufficient permissions to modify the job token scope"
)

// jobTokenScope is GitLab's ProjectJobTokenScope entity. The inbound
// allowlist is always enforced here (GitLab's default for new projects);
// the deprecated outbound scope does not exist.
type jobTokenScope struct {
	InboundEnabled  bool `json:"inbound_enabled"`
	OutboundEnabled bool `json:"outbound_enabled"`
}

// allowlistLink is GitLab's ProjectScopeLink entity: source is the project
// whose allowlist was edited, target the project allowed in.
type allowlistLink struct {
	SourceProjectID int64 `json:"source_project_id"`
	TargetProjectID int64 `json:"target_project_id"`
}

// getJobTokenScope is GET /projects/:id/job_token_scope, for Maintainers.
func (s *Server) getJobTokenScope(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	if _, err := s.project(r, store.Maintainer); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobTokenScope{InboundEnabled: true})
	return nil
}

// listAllowlist is GET /projects/:id/job_token_scope/allowlist, for
// Maintainers: the project itself, then the projects added to its inbound
// allowlist, as GitLab's basic project entity.
func (s *Server) listAllowlist(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	page := pageOf(r)
	ps, total, err := s.q.ListAllowlist(r.Context(), pa.Project.ID, page)
	if err != nil {
		return err
	}
	out := make([]entity.BasicProject, len(ps))
	for i, p := range ps {
		out[i] = entity.NewBasicProject(s.cfg.ExternalURL, p)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addToAllowlist is POST /projects/:id/job_token_scope/allowlist, for
// Maintainers: target_project_id's jobs may then use their job token
// against :id. GitLab takes only a numeric :id here; a URL-encoded path
// works too.
func (s *Server) addToAllowlist(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	caller, err := s.requireUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	if !p.has("target_project_id") || p["target_project_id"] == nil {
		c.fail("target_project_id is missing")
	}
	targetID, _ := c.optionalInt(p, "target_project_id")
	if err := c.err(); err != nil {
		return err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	target, err := s.q.ProjectByID(ctx, targetID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("target_project_id not found")
	}
	if err != nil {
		return err
	}
	if target.ID == pa.Project.ID {
		return badRequest(msgTargetIsSource)
	}
	// The caller must be able to see the project it lets in.
	if target.Visibility != "public" && target.Visibility != "internal" && !caller.IsAdmin {
		level, err := s.q.AccessLevel(ctx, caller.ID, target.ID)
		if err != nil {
			return err
		}
		if level == store.NoAccess {
			return badRequest(msgTargetUnreachable)
		}
	}
	err = s.q.AddToAllowlist(ctx, pa.Project.ID, target.ID)
	if errors.Is(err, store.ErrDuplicate) {
		return badRequest(msgTargetInScope)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, allowlistLink{SourceProjectID: pa.Project.ID, TargetProjectID: target.ID})
	return nil
}

// removeFromAllowlist is DELETE
// /projects/:id/job_token_scope/allowlist/:target_project_id, for
// Maintainers; 204 when done.
func (s *Server) removeFromAllowlist(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	targetID, err := strconv.ParseInt(pathVar(r, "target_project_id"), 10, 64)
	if err != nil {
		return paramError("target_project_id is invalid")
	}
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	if _, err := s.q.ProjectByID(ctx, targetID); errors.Is(err, store.ErrNotFound) {
		return notFound("Project")
	} else if err != nil {
		return err
	}
	if pa.Level < store.Maintainer {
		return messageError(http.StatusForbidden, msgScopeForbidden)
	}
	if targetID == pa.Project.ID {
		return badRequest(msgSourceNotRemoved)
	}
	err = s.q.RemoveFromAllowlist(ctx, pa.Project.ID, targetID)
	if errors.Is(err, store.ErrNotFound) {
		return badRequest(msgTargetNotInScope)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
