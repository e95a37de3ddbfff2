package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// personalToken returns the personal access token a request carries, in the
// places GitLab looks: the PRIVATE-TOKEN header, a Bearer authorization, and
// the private_token / access_token query parameters.
func personalToken(r *http.Request) string {
	if t := r.Header.Get("Private-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	q := r.URL.Query()
	if t := q.Get("private_token"); t != "" {
		return t
	}
	return q.Get("access_token")
}

// currentUser authenticates the request's personal access token. No token is
// (nil, nil): an anonymous request. A token that matches no active token is
// 401, as GitLab answers.
func (s *Server) currentUser(r *http.Request) (*store.User, error) {
	tok := personalToken(r)
	if tok == "" {
		return nil, nil
	}
	u, pat, err := s.q.UserByPersonalToken(r.Context(), secret.Digest(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if u.State != "active" {
		return nil, errUnauthorized
	}
	if !scopeAllows(pat.Scopes, r) {
		return nil, errInsufficientScope
	}
	return &u, nil
}

// errInsufficientScope is GitLab's answer when a token's scopes do not cover
// the request.
var errInsufficientScope = &apiError{status: http.StatusForbidden, body: map[string]string{
	"error":             "insufficient_scope",
	"error_description": "The request requires higher privileges than provided by the access token.",
	"scope":             "api",
}}

// scopeAllows reports whether a token with scopes may make request r: "api"
// (or "sudo") allows everything, "read_api" only reads, "read_user" only
// reads users.
func scopeAllows(scopes []string, r *http.Request) bool {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	for _, sc := range scopes {
		switch sc {
		case "api", "sudo":
			return true
		case "read_api":
			if read {
				return true
			}
		case "read_user":
			if read && (strings.HasPrefix(r.URL.Path, "/api/v4/user") || r.URL.Path == "/api/v4/users") {
				return true
			}
		}
	}
	return false
}

// requireUser is currentUser for endpoints that need a user: anonymous is
// 401.
func (s *Server) requireUser(r *http.Request) (store.User, error) {
	u, err := s.currentUser(r)
	if err != nil {
		return store.User{}, err
	}
	if u == nil {
		return store.User{}, errUnauthorized
	}
	return *u, nil
}

// requireAdmin lets only administrators through: anonymous is 401, others
// 403.
func (s *Server) requireAdmin(r *http.Request) (store.User, error) {
	u, err := s.requireUser(r)
	if err != nil {
		return store.User{}, err
	}
	if !u.IsAdmin {
		return store.User{}, errForbidden
	}
	return u, nil
}

// lookupProject resolves a project id or URL-decoded full path.
func (s *Server) lookupProject(ctx context.Context, idOrPath string) (store.Project, error) {
	if id, err := strconv.ParseInt(idOrPath, 10, 64); err == nil {
		return s.q.ProjectByID(ctx, id)
	}
	return s.q.ProjectByPath(ctx, idOrPath)
}

// projectAccess is a project as one user sees it.
type projectAccess struct {
	Project store.Project
	User    *store.User
	// Level is the user's access level; administrators count as Owner.
	Level int
}

// project resolves the route's :id for the request's user. A project that
// does not exist, or that is private and the user cannot see, is
// "404 Project Not Found", as GitLab hides private projects. min is the
// access level the endpoint needs beyond seeing the project: below it is 403,
// or 401 for an anonymous request.
func (s *Server) project(r *http.Request, min int) (projectAccess, error) {
	user, err := s.currentUser(r)
	if err != nil {
		return projectAccess{}, err
	}
	p, err := s.lookupProject(r.Context(), pathVar(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		return projectAccess{}, notFound("Project")
	}
	if err != nil {
		return projectAccess{}, err
	}
	pa := projectAccess{Project: p, User: user}
	if user != nil {
		if user.IsAdmin {
			pa.Level = store.Owner
		} else if pa.Level, err = s.q.AccessLevel(r.Context(), user.ID, p.ID); err != nil {
			return projectAccess{}, err
		}
	}
	visible := pa.Level > store.NoAccess || p.Visibility == "public" || (p.Visibility == "internal" && user != nil)
	if !visible {
		return projectAccess{}, notFound("Project")
	}
	if pa.Level < min {
		if user == nil {
			return projectAccess{}, errUnauthorized
		}
		return projectAccess{}, errForbidden
	}
	return pa, nil
}
