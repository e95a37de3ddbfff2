package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

func (s *Server) routesTriggerTokens(r *mux.Router) {
	r.Handle("/projects/{id}/triggers", s.handle(s.listTriggers)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/triggers", s.handle(s.createTrigger)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/triggers/{trigger_id}", s.handle(s.getTrigger)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/triggers/{trigger_id}", s.handle(s.updateTrigger)).Methods(http.MethodPut)
	r.Handle("/projects/{id}/triggers/{trigger_id}", s.handle(s.deleteTrigger)).Methods(http.MethodDelete)
}

// errTriggerNotFound is GitLab's answer for an unknown trigger id (note the
// lower-case "found", as GitLab writes it).
var errTriggerNotFound = messageError(http.StatusNotFound, "404 Not found")

// triggerProject authenticates (401 first, as GitLab's authenticate! runs
// before anything else) and requires Maintainer on the project.
func (s *Server) triggerProject(r *http.Request) (projectAccess, error) {
	if _, err := s.requireUser(r); err != nil {
		return projectAccess{}, err
	}
	return s.project(r, store.Maintainer)
}

// renderTrigger shows the full token to its owner and to administrators,
// and its first four characters to everyone else.
func (s *Server) renderTrigger(r *http.Request, pa projectAccess, t store.Trigger) (entity.Trigger, error) {
	token := t.ShortToken
	if pa.User != nil && (pa.User.IsAdmin || (t.OwnerID != nil && *t.OwnerID == pa.User.ID)) {
		full, err := s.sealer.Open(t.TokenEnc)
		if err != nil {
			return entity.Trigger{}, err
		}
		token = full
	}
	var owner *entity.UserBasic
	if t.OwnerID != nil {
		u, err := s.q.UserByID(r.Context(), *t.OwnerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return entity.Trigger{}, err
		}
		if err == nil {
			ub := entity.UserBasicOf(s.cfg.ExternalURL, u)
			owner = &ub
		}
	}
	return entity.NewTrigger(t, token, owner), nil
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.triggerProject(r)
	if err != nil {
		return err
	}
	page := pageOf(r)
	ts, total, err := s.q.ListTriggers(r.Context(), pa.Project.ID, page)
	if err != nil {
		return err
	}
	out := make([]entity.Trigger, 0, len(ts))
	for _, t := range ts {
		e, err := s.renderTrigger(r, pa, t)
		if err != nil {
			return err
		}
		out = append(out, e)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// triggerID parses :trigger_id as GitLab's Grape type check does.
func triggerID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(pathVar(r, "trigger_id"), 10, 64)
	if err != nil {
		return 0, paramError("trigger_id is invalid")
	}
	return id, nil
}

// findTrigger resolves the project and the :trigger_id, in GitLab's order:
// authentication, the id's type, the project and role, the trigger.
func (s *Server) findTrigger(r *http.Request) (projectAccess, store.Trigger, error) {
	if _, err := s.requireUser(r); err != nil {
		return projectAccess{}, store.Trigger{}, err
	}
	id, err := triggerID(r)
	if err != nil {
		return projectAccess{}, store.Trigger{}, err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return projectAccess{}, store.Trigger{}, err
	}
	t, err := s.q.TriggerByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return projectAccess{}, store.Trigger{}, errTriggerNotFound
	}
	return pa, t, err
}

func (s *Server) getTrigger(w http.ResponseWriter, r *http.Request) error {
	pa, t, err := s.findTrigger(r)
	if err != nil {
		return err
	}
	e, err := s.renderTrigger(r, pa, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) createTrigger(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	desc, err := p.requiredString("description")
	if err != nil {
		return err
	}
	var expires *time.Time
	if raw, ok, err := p.optionalString("expires_at"); err != nil {
		return err
	} else if ok && raw != "" {
		t, err := parseDateTime(raw)
		if err != nil {
			return paramError("expires_at is invalid")
		}
		expires = &t
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	token := secret.NewTriggerToken()
	digest := secret.Digest(token)
	t, err := s.q.CreateTrigger(r.Context(), store.NewTrigger{
		ProjectID: pa.Project.ID, OwnerID: pa.User.ID, Description: desc, Digest: digest,
		TokenEnc: s.sealer.Seal(token), ShortToken: secret.ShortToken(token), ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	// A cached miss for this digest (someone guessing) must not outlive the
	// token's creation.
	s.invalidate(r.Context(), event.Invalidation{TokenDigest: digest})
	e, err := s.renderTrigger(r, pa, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (s *Server) updateTrigger(w http.ResponseWriter, r *http.Request) error {
	pa, t, err := s.findTrigger(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	desc, ok, err := p.optionalString("description")
	if err != nil {
		return err
	}
	if t.OwnerID == nil || *t.OwnerID != pa.User.ID {
		return messageError(http.StatusForbidden, "403 Forbidden - The current user is not authorized to update the pipeline trigger token")
	}
	if ok {
		if t, err = s.q.UpdateTriggerDescription(r.Context(), pa.Project.ID, t.ID, desc); err != nil {
			return err
		}
	}
	e, err := s.renderTrigger(r, pa, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) deleteTrigger(w http.ResponseWriter, r *http.Request) error {
	pa, t, err := s.findTrigger(r)
	if err != nil {
		return err
	}
	digest, err := s.q.DeleteTrigger(r.Context(), pa.Project.ID, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errTriggerNotFound
	}
	if err != nil {
		return err
	}
	s.invalidate(r.Context(), event.Invalidation{TokenDigest: digest})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseDateTime accepts GitLab's date and date-time parameter forms.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a date")
}
