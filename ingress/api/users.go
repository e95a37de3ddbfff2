package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// routesUsers registers GitLab's users and personal access token endpoints:
// enough for a client to find out who it is and for an administrator to set
// up users and their tokens.
func (s *Server) routesUsers(r *mux.Router) {
	r.Handle("/user", s.handle(s.getCurrentUser)).Methods(http.MethodGet)
	r.Handle("/users", s.handle(s.listUsers)).Methods(http.MethodGet)
	r.Handle("/users", s.handle(s.createUser)).Methods(http.MethodPost)
	// GitLab's route only matches numeric ids; anything else is an
	// unknown route.
	r.Handle("/users/{user_id:[0-9]+}", s.handle(s.getUser)).Methods(http.MethodGet)
	r.Handle("/users/{user_id}/personal_access_tokens", s.handle(s.createPersonalToken)).Methods(http.MethodPost)
	r.Handle("/personal_access_tokens", s.handle(s.listPersonalTokens)).Methods(http.MethodGet)
	r.Handle("/personal_access_tokens/self", s.handle(s.getSelfPersonalToken)).Methods(http.MethodGet)
	r.Handle("/personal_access_tokens/{token_id:[0-9]+}", s.handle(s.getPersonalToken)).Methods(http.MethodGet)
}

var errUserNotFound = notFound("User")

// getCurrentUser is GET /user: the authenticated user, as GitLab's
// UserPublic entity, or UserWithAdmin for an administrator.
func (s *Server) getCurrentUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	if !u.IsAdmin {
		writeJSON(w, http.StatusOK, entity.NewUserPublic(s.cfg.ExternalURL, u))
		return nil
	}
	out, err := s.usersWithAdmin(r.Context(), []store.User{u})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// usersWithAdmin renders users for an administrator, with their personal
// namespace ids.
func (s *Server) usersWithAdmin(ctx context.Context, users []store.User) ([]entity.UserWithAdmin, error) {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	ns, err := s.q.PersonalNamespaceIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]entity.UserWithAdmin, len(users))
	for i, u := range users {
		out[i] = entity.NewUserWithAdmin(s.cfg.ExternalURL, u, ns[u.ID])
	}
	return out, nil
}

// listUsers is GET /users. Anonymous callers must name a username, as in
// GitLab, so that the list of users does not leak; administrators see the
// UserWithAdmin entity, others UserBasic.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.currentUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	f := store.UserFilter{}
	f.Username, _ = c.optionalString(p, "username")
	f.Search, _ = c.optionalString(p, "search")
	f.Active, _ = c.optionalBool(p, "active")
	f.Blocked, _ = c.optionalBool(p, "blocked")
	if err := c.err(); err != nil {
		return err
	}
	if viewer == nil && f.Username == "" {
		return messageError(http.StatusForbidden, "403 Forbidden - Not authorized to access /api/v4/users")
	}
	page := pageOf(r)
	users, total, err := s.q.ListUsers(r.Context(), f, page)
	if err != nil {
		return err
	}
	s.setPageHeaders(w, r, page, total)
	if viewer != nil && viewer.IsAdmin {
		out, err := s.usersWithAdmin(r.Context(), users)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out := make([]entity.UserBasic, len(users))
	for i, u := range users {
		out[i] = entity.UserBasicOf(s.cfg.ExternalURL, u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getUser is GET /users/:id: any signed-in user may look another up.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.currentUser(r)
	if err != nil {
		return err
	}
	if viewer == nil {
		return messageError(http.StatusForbidden, "403 Forbidden - Not authorized!")
	}
	id, err := strconv.ParseInt(pathVar(r, "user_id"), 10, 64)
	if err != nil {
		return errUserNotFound
	}
	u, err := s.q.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errUserNotFound
	}
	if err != nil {
		return err
	}
	if viewer.IsAdmin {
		out, err := s.usersWithAdmin(r.Context(), []store.User{u})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out[0])
		return nil
	}
	writeJSON(w, http.StatusOK, entity.NewUser(s.cfg.ExternalURL, u))
	return nil
}

// emailFormat is a plausible email address: something, an @, something.
var emailFormat = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)

// namespacePathFormat is GitLab's rule for usernames and group paths:
// letters, digits, '_', '-' and '.', not starting with '-' or '.', not
// ending in '.', '.git' or '.atom'.
var namespacePathFormat = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$`)

const namespacePathMessage = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'"

func validNamespacePath(path string) bool {
	lower := strings.ToLower(path)
	return len(path) <= 255 && namespacePathFormat.MatchString(path) && !strings.HasSuffix(path, ".") &&
		!strings.HasSuffix(lower, ".git") && !strings.HasSuffix(lower, ".atom")
}

// createUser is POST /users, for administrators. There are no passwords
// here: password, reset_password and force_random_password are accepted
// and ignored, and none of them is required.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	// Grape authenticates, then validates parameters, then the endpoint
	// checks for an administrator.
	caller, err := s.requireUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	email := c.required(p, "email")
	c.optionalString(p, "password")
	c.optionalBool(p, "reset_password")
	c.optionalBool(p, "skip_confirmation")
	name := c.required(p, "name")
	username := c.required(p, "username")
	c.optionalBool(p, "force_random_password")
	admin, _ := c.optionalBool(p, "admin")
	if err := c.err(); err != nil {
		return err
	}
	if !caller.IsAdmin {
		return errForbidden
	}
	var v fieldErrors
	if strings.TrimSpace(name) == "" {
		v.add("name", "can't be blank")
	}
	if username == "" {
		v.add("username", "can't be blank")
	} else if !validNamespacePath(username) {
		v.add("username", namespacePathMessage)
	}
	if !emailFormat.MatchString(email) {
		v.add("email", "is invalid")
	}
	if err := v.err(); err != nil {
		return err
	}
	var u store.User
	err = store.InTx(r.Context(), s.pool, func(q *store.Queries) error {
		var err error
		u, err = q.CreateUser(r.Context(), store.NewUser{Username: username, Name: name, Email: email, IsAdmin: admin})
		return err
	})
	if errors.Is(err, store.ErrDuplicate) {
		emailTaken, usernameTaken, _, terr := s.q.UserTaken(r.Context(), email, username)
		switch {
		case terr != nil:
			return terr
		case emailTaken:
			return messageError(http.StatusConflict, "Email has already been taken")
		case usernameTaken:
			return messageError(http.StatusConflict, "Username has already been taken")
		}
		// A group holds the path the user's namespace needs.
		v.add("username", "has already been taken")
		return v.err()
	}
	if err != nil {
		return err
	}
	out, err := s.usersWithAdmin(r.Context(), []store.User{u})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out[0])
	return nil
}

// personalTokenScopes are the scopes GitLab accepts for a personal access
// token.
var personalTokenScopes = map[string]bool{
	"api": true, "read_api": true, "read_user": true, "create_runner": true, "manage_runner": true,
	"k8s_proxy": true, "read_repository": true, "write_repository": true, "read_registry": true,
	"write_registry": true, "read_virtual_registry": true, "write_virtual_registry": true,
	"ai_features": true, "sudo": true, "admin_mode": true, "read_service_ping": true, "self_rotate": true,
}

// personalTokenLifetime is how long a token created without expires_at
// lives: GitLab applies its maximum lifetime, 365 days.
const personalTokenLifetime = 365 * 24 * time.Hour

// createPersonalToken is POST /users/:user_id/personal_access_tokens, for
// administrators. The token's text is in this answer only; the database
// keeps its digest.
func (s *Server) createPersonalToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	userID, err := strconv.ParseInt(pathVar(r, "user_id"), 10, 64)
	if err != nil {
		c.fail("user_id is invalid")
	}
	name := c.required(p, "name")
	scopes := c.stringList(p, "scopes")
	for _, sc := range scopes {
		if !personalTokenScopes[sc] {
			c.fail("scopes does not have a valid value")
			break
		}
	}
	expires := c.optionalDate(p, "expires_at")
	desc, hasDesc := c.optionalString(p, "description")
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.q.UserByID(r.Context(), userID)
	if errors.Is(err, store.ErrNotFound) {
		return errUserNotFound
	}
	if err != nil {
		return err
	}
	if expires == nil {
		d := time.Now().UTC().Add(personalTokenLifetime).Truncate(24 * time.Hour)
		expires = &d
	}
	nt := store.NewPersonalToken{UserID: u.ID, Name: name, Scopes: scopes, ExpiresAt: expires}
	if hasDesc {
		nt.Description = &desc
	}
	token := secret.NewPersonalToken()
	nt.Digest = secret.Digest(token)
	t, err := s.q.InsertPersonalToken(r.Context(), nt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.PersonalAccessTokenWithToken{
		PersonalAccessToken: entity.NewPersonalAccessToken(t, time.Now()), Token: token})
	return nil
}

// listPersonalTokens is GET /personal_access_tokens: a user's own tokens;
// an administrator sees everyone's, or one user's with user_id.
func (s *Server) listPersonalTokens(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	// Others' tokens are for administrators only; user_id is ignored
	// for everyone else.
	f := store.PersonalTokenFilter{UserID: &u.ID}
	uid, hasUID := c.optionalInt(p, "user_id")
	switch {
	case u.IsAdmin && hasUID:
		f.UserID = &uid
	case u.IsAdmin:
		f.UserID = nil
	}
	if revoked, ok := c.optionalBool(p, "revoked"); ok {
		f.Revoked = &revoked
	}
	if state, ok := c.optionalString(p, "state"); ok {
		c.values("state", state, "active", "inactive")
		f.State = state
	}
	f.Search, _ = c.optionalString(p, "search")
	if err := c.err(); err != nil {
		return err
	}
	page := pageOf(r)
	ts, total, err := s.q.ListPersonalTokens(r.Context(), f, page)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]entity.PersonalAccessToken, len(ts))
	for i, t := range ts {
		out[i] = entity.NewPersonalAccessToken(t, now)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getSelfPersonalToken is GET /personal_access_tokens/self: the token the
// request authenticated with.
func (s *Server) getSelfPersonalToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	_, t, err := s.q.UserByPersonalToken(r.Context(), secret.Digest(personalToken(r)))
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthorized
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPersonalAccessToken(t, time.Now()))
	return nil
}

// getPersonalToken is GET /personal_access_tokens/:id: one's own token, or
// anyone's for an administrator; other tokens are not found.
func (s *Server) getPersonalToken(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pathVar(r, "token_id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	t, err := s.q.PersonalTokenByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.UserID != u.ID && !u.IsAdmin) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewPersonalAccessToken(t, time.Now()))
	return nil
}

// paramChecks collects parameter validation failures, which Grape reports
// together, in declaration order: {"error":"a is missing, b is invalid"}.
type paramChecks []string

func (c *paramChecks) fail(msg string) { *c = append(*c, msg) }

// err is the collected failures as one 400, or nil.
func (c paramChecks) err() error {
	if len(c) == 0 {
		return nil
	}
	return paramError(strings.Join(c, ", "))
}

// required is a string parameter that must be present.
func (c *paramChecks) required(p params, name string) string {
	if !p.has(name) || p[name] == nil {
		c.fail(name + " is missing")
		return ""
	}
	v, ok := p.str(name)
	if !ok {
		c.fail(name + " is invalid")
	}
	return v
}

// optionalString is a string parameter that may be absent.
func (c *paramChecks) optionalString(p params, name string) (string, bool) {
	v, ok, err := p.optionalString(name)
	if err != nil {
		c.fail(name + " is invalid")
	}
	return v, ok
}

// optionalInt is an integer parameter that may be absent.
func (c *paramChecks) optionalInt(p params, name string) (int64, bool) {
	v, ok, err := p.optionalInt(name)
	if err != nil {
		c.fail(name + " is invalid")
	}
	return v, ok
}

// optionalBool is a boolean parameter that may be absent.
func (c *paramChecks) optionalBool(p params, name string) (bool, bool) {
	v, ok, err := p.optionalBool(name)
	if err != nil {
		c.fail(name + " is invalid")
	}
	return v, ok
}

// optionalDate is a calendar date parameter (YYYY-MM-DD) that may be
// absent or empty.
func (c *paramChecks) optionalDate(p params, name string) *time.Time {
	v, ok := c.optionalString(p, name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	d, err := time.Parse("2006-01-02", strings.TrimSpace(v))
	if err != nil {
		c.fail(name + " is invalid")
		return nil
	}
	return &d
}

// stringList is a required array of strings: a JSON list, repeated
// name[]= form fields, or one comma-separated string, as GitLab coerces
// scopes. An empty list is "is empty".
func (c *paramChecks) stringList(p params, name string) []string {
	if !p.has(name) || p[name] == nil {
		c.fail(name + " is missing")
		return nil
	}
	var out []string
	switch v := p[name].(type) {
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				c.fail(name + " is invalid")
				return nil
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	default:
		c.fail(name + " is invalid")
		return nil
	}
	if len(out) == 0 {
		c.fail(name + " is empty")
	}
	return out
}

// values checks a parameter against the values Grape allows.
func (c *paramChecks) values(name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail(name + " does not have a valid value")
}
