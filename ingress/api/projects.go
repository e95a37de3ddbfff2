package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// routesProjects registers GitLab's projects, project members, groups and
// namespaces endpoints, and the CI/CD job token scope of a project.
func (s *Server) routesProjects(r *mux.Router) {
	r.Handle("/projects", s.handle(s.listProjects)).Methods(http.MethodGet)
	r.Handle("/projects", s.handle(s.createProject)).Methods(http.MethodPost)
	r.Handle("/projects/user/{user_id}", s.handle(s.createProjectForUser)).Methods(http.MethodPost)
	r.Handle("/projects/{id}", s.handle(s.getProject)).Methods(http.MethodGet)
	r.Handle("/projects/{id}", s.handle(s.updateProject)).Methods(http.MethodPut)
	r.Handle("/projects/{id}", s.handle(s.deleteProject)).Methods(http.MethodDelete)

	// members/all before members/:user_id, which would take "all" for an
	// id.
	r.Handle("/projects/{id}/members/all", s.handle(s.listAllProjectMembers)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/members/all/{user_id}", s.handle(s.getAllProjectMember)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/members", s.handle(s.listProjectMembers)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/members", s.handle(s.addProjectMember)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/members/{user_id}", s.handle(s.getProjectMember)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/members/{user_id}", s.handle(s.updateProjectMember)).Methods(http.MethodPut)
	r.Handle("/projects/{id}/members/{user_id}", s.handle(s.deleteProjectMember)).Methods(http.MethodDelete)

	r.Handle("/groups", s.handle(s.listGroups)).Methods(http.MethodGet)
	r.Handle("/groups", s.handle(s.createGroup)).Methods(http.MethodPost)
	r.Handle("/groups/{id}", s.handle(s.getGroup)).Methods(http.MethodGet)
	r.Handle("/groups/{id}/projects", s.handle(s.listGroupProjects)).Methods(http.MethodGet)
	r.Handle("/groups/{id}/members", s.handle(s.listGroupMembers)).Methods(http.MethodGet)
	r.Handle("/groups/{id}/members", s.handle(s.addGroupMember)).Methods(http.MethodPost)

	r.Handle("/namespaces", s.handle(s.listNamespaces)).Methods(http.MethodGet)
	r.Handle("/namespaces/{id}", s.handle(s.getNamespace)).Methods(http.MethodGet)

	s.routesAllowlist(r)
}

var (
	errGroupNotFound     = notFound("Group")
	errNamespaceNotFound = notFound("Namespace")
	// errMemberNotFound is what GitLab answers for a user who is not a
	// member (its generic record-not-found answer, lower-case "found").
	errMemberNotFound = messageError(http.StatusNotFound, "404 Not found")
	errMemberExists   = messageError(http.StatusConflict, "Member already exists")
)

// visibilities are GitLab's visibility levels, most restrictive first.
var visibilities = []string{"private", "internal", "public"}

// fieldErrors is a model validation failure as GitLab renders it:
// {"message":{"field":["problem", ...]}}, fields in the order GitLab
// validates them.
type fieldErrors struct {
	fields []string
	msgs   map[string][]string
}

func (f *fieldErrors) add(field, msg string) {
	if f.msgs == nil {
		f.msgs = map[string][]string{}
	}
	if _, ok := f.msgs[field]; !ok {
		f.fields = append(f.fields, field)
	}
	f.msgs[field] = append(f.msgs[field], msg)
}

// MarshalJSON writes the fields in the order they were added.
func (f fieldErrors) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, field := range f.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(field)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.msgs[field])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// err is the failure as a 400, or nil when nothing failed.
func (f fieldErrors) err() error {
	if len(f.fields) == 0 {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, body: map[string]any{"message": f}}
}

// projectNameFormat is GitLab's project name rule.
var projectNameFormat = regexp.MustCompile(`^[\p{L}\p{N}_\x{00A9}-\x{1f9ff}][\p{L}\p{N}\p{Pd}+_. \x{00A9}-\x{1f9ff}]*$`)

const projectNameMessage = "can contain only letters, digits, emojis, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'."

// parameterize is Rails' String#parameterize as GitLab uses it to make a
// path from a name: runs of anything but ASCII letters, digits, '-' and '_'
// become one '-', with none at either end, all lower case.
func parameterize(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			if sep && b.Len() > 0 {
				b.WriteByte('-')
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	out := b.String()
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	return strings.Trim(out, "-")
}

// projectInput is the attributes of a project create or update request.
type projectInput struct {
	name, path, description, visibility, defaultBranch, ciConfigPath *string
}

// readProjectInput validates the attributes shared by create and update.
func readProjectInput(c *paramChecks, p params) projectInput {
	var in projectInput
	opt := func(name string) *string {
		if v, ok := c.optionalString(p, name); ok {
			return &v
		}
		return nil
	}
	in.name = opt("name")
	in.path = opt("path")
	in.description = opt("description")
	in.visibility = opt("visibility")
	if in.visibility != nil {
		c.values("visibility", *in.visibility, visibilities...)
	}
	in.defaultBranch = opt("default_branch")
	in.ciConfigPath = opt("ci_config_path")
	return in
}

// validateProject applies GitLab's format rules to a project's name and
// path.
func validateProject(v *fieldErrors, name, path string) {
	if strings.TrimSpace(name) == "" {
		v.add("name", "can't be blank")
	} else if !projectNameFormat.MatchString(name) {
		v.add("name", projectNameMessage)
	}
	if path == "" {
		v.add("path", "can't be blank")
	} else if !validNamespacePath(path) {
		v.add("path", namespacePathMessage)
	}
}

// takenErrors adds GitLab's answer for a name or path already used in the
// namespace.
func takenErrors(v *fieldErrors, nameTaken, pathTaken bool) {
	if nameTaken {
		v.add("project_namespace.name", "has already been taken")
		v.add("name", "has already been taken")
	}
	if pathTaken {
		v.add("path", "has already been taken")
	}
}

// createProject is POST /projects: a project in the caller's personal
// namespace or in namespace_id.
func (s *Server) createProject(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	return s.createProjectAs(w, r, u, u)
}

// createProjectForUser is POST /projects/user/:user_id: an administrator
// creates a project in a user's personal namespace, as that user.
func (s *Server) createProjectForUser(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.requireAdmin(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pathVar(r, "user_id"), 10, 64)
	if err != nil {
		return paramError("user_id is invalid")
	}
	owner, err := s.q.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errUserNotFound
	}
	if err != nil {
		return err
	}
	return s.createProjectAs(w, r, caller, owner)
}

// createProjectAs creates a project for creator (who is caller, or the user
// an administrator creates it for), in creator's personal namespace unless
// namespace_id names another the creator may create projects in.
func (s *Server) createProjectAs(w http.ResponseWriter, r *http.Request, caller, creator store.User) error {
	ctx := r.Context()
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	in := readProjectInput(&c, p)
	if in.name == nil && in.path == nil {
		c = append(paramChecks{"name, path are missing, at least one parameter must be provided"}, c...)
	}
	nsID, hasNS := c.optionalInt(p, "namespace_id")
	if caller.ID != creator.ID {
		// POST /projects/user/:user_id has no namespace_id.
		hasNS = false
	}
	if err := c.err(); err != nil {
		return err
	}

	// Derive the missing one of name and path as GitLab does.
	name, path := strOrEmpty(in.name), strOrEmpty(in.path)
	switch {
	case name != "" && path != "":
	case path != "":
		name = path
	case name != "":
		path = name
		if !validNamespacePath(path) {
			path = parameterize(name)
		}
	}

	var ns store.Namespace
	if hasNS {
		ns, err = s.q.NamespaceByID(ctx, nsID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ok := err == nil
		if ok && !creator.IsAdmin {
			level, err := s.q.NamespaceAccess(ctx, creator.ID, ns.ID)
			if err != nil {
				return err
			}
			ok = level >= store.Maintainer
		}
		if !ok {
			var v fieldErrors
			v.add("namespace", "is not valid")
			return v.err()
		}
	} else if ns, err = s.q.PersonalNamespace(ctx, creator.ID); err != nil {
		return err
	}

	var v fieldErrors
	validateProject(&v, name, path)
	if err := v.err(); err != nil {
		return err
	}
	visibility := "private"
	if in.visibility != nil {
		visibility = *in.visibility
	}
	ciPath := ".gitlab-ci.yml"
	if in.ciConfigPath != nil && strings.TrimSpace(*in.ciConfigPath) != "" {
		ciPath = *in.ciConfigPath
	}
	var branch *string
	if in.defaultBranch != nil && strings.TrimSpace(*in.defaultBranch) != "" {
		branch = in.defaultBranch
	}

	var project store.Project
	err = store.InTx(ctx, s.pool, func(q *store.Queries) error {
		nameTaken, pathTaken, err := q.ProjectTaken(ctx, ns.ID, name, path, 0)
		if err != nil {
			return err
		}
		if nameTaken || pathTaken {
			takenErrors(&v, nameTaken, pathTaken)
			return v.err()
		}
		project, err = q.CreateProject(ctx, store.NewProject{
			NamespaceID: ns.ID, Name: name, Path: path, Description: strOrEmpty(in.description), Visibility: visibility,
			DefaultBranch: branch, CIConfigPath: ciPath, CreatorID: creator.ID,
		})
		if err != nil {
			return err
		}
		// The owner of a personal namespace owns its projects; in a group
		// the creator becomes a Maintainer unless the group's Owner level
		// already covers it.
		if ns.Kind == "user" && ns.OwnerID != nil {
			_, err = q.AddProjectMember(ctx, project.ID, *ns.OwnerID, store.Owner, nil)
			return err
		}
		level, err := q.NamespaceAccess(ctx, creator.ID, ns.ID)
		if err != nil {
			return err
		}
		if level < store.Owner {
			_, err = q.AddProjectMember(ctx, project.ID, creator.ID, store.Maintainer, nil)
		}
		return err
	})
	if errors.Is(err, store.ErrDuplicate) {
		// Another request took the path between the check and the insert.
		takenErrors(&v, false, true)
		return v.err()
	}
	if err != nil {
		return err
	}
	// A project may reuse the path of a deleted one whose miss is cached.
	s.invalidate(ctx, event.Invalidation{ProjectID: project.ID})
	out, err := s.renderProjects(ctx, nil, []store.Project{project})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out[0])
	return nil
}

// strOrEmpty is an optional string parameter's value, "" when absent.
func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// renderProjects renders projects as GitLab's Project entity. With a
// viewer, each carries the viewer's permissions (ProjectWithAccess).
func (s *Server) renderProjects(ctx context.Context, viewer *store.User, ps []store.Project) ([]entity.Project, error) {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	empty, err := s.q.EmptyRepositories(ctx, ids)
	if err != nil {
		return nil, err
	}
	owners := map[int64]*entity.UserBasic{}
	out := make([]entity.Project, len(ps))
	for i, p := range ps {
		var owner *entity.UserBasic
		if p.NamespaceKind == "user" && p.NamespaceOwnerID != nil {
			id := *p.NamespaceOwnerID
			if _, ok := owners[id]; !ok {
				u, err := s.q.UserByID(ctx, id)
				if err != nil {
					return nil, err
				}
				ub := entity.UserBasicOf(s.cfg.ExternalURL, u)
				owners[id] = &ub
			}
			owner = owners[id]
		}
		var perms *entity.ProjectPermissions
		if viewer != nil {
			pl, gl, err := s.q.ProjectPermissions(ctx, viewer.ID, p.ID)
			if err != nil {
				return nil, err
			}
			perms = entity.NewProjectPermissions(pl, gl)
		}
		out[i] = entity.NewProject(s.cfg.ExternalURL, p, owner, empty[p.ID], perms)
	}
	return out, nil
}

// listProjects is GET /projects: the projects the caller may see (public
// ones for an anonymous caller), newest first.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.currentUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	f, simple, err := readProjectFilter(p, viewer)
	if err != nil {
		return err
	}
	return s.writeProjects(w, r, viewer, f, simple)
}

// readProjectFilter reads GitLab's project list parameters.
func readProjectFilter(p params, viewer *store.User) (store.ProjectFilter, bool, error) {
	var c paramChecks
	f := store.ProjectFilter{}
	if viewer != nil {
		f.UserID, f.Admin = &viewer.ID, viewer.IsAdmin
	}
	f.Owned, _ = c.optionalBool(p, "owned")
	f.Membership, _ = c.optionalBool(p, "membership")
	simple, _ := c.optionalBool(p, "simple")
	f.Search, _ = c.optionalString(p, "search")
	if v, ok := c.optionalString(p, "visibility"); ok {
		c.values("visibility", v, visibilities...)
		f.Visibility = v
	}
	if v, ok := c.optionalString(p, "order_by"); ok {
		if !store.ValidProjectOrder(v) {
			c.fail("order_by does not have a valid value")
		}
		f.OrderBy = v
	}
	if v, ok := c.optionalString(p, "sort"); ok {
		c.values("sort", v, "asc", "desc")
		f.Asc = v == "asc"
	}
	return f, simple, c.err()
}

// writeProjects answers a page of the projects f selects.
func (s *Server) writeProjects(w http.ResponseWriter, r *http.Request, viewer *store.User, f store.ProjectFilter, simple bool) error {
	page := pageOf(r)
	ps, total, err := s.q.ListProjects(r.Context(), f, page)
	if err != nil {
		return err
	}
	s.setPageHeaders(w, r, page, total)
	if simple {
		out := make([]entity.BasicProject, len(ps))
		for i, p := range ps {
			out[i] = entity.NewBasicProject(s.cfg.ExternalURL, p)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out, err := s.renderProjects(r.Context(), viewer, ps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getProject is GET /projects/:id, with the caller's permissions.
func (s *Server) getProject(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	out, err := s.renderProjects(r.Context(), pa.User, []store.Project{pa.Project})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// updateProject is PUT /projects/:id. Maintainers may change the
// description, default branch and CI config path; renaming (name or path)
// and changing the visibility take an Owner, as in GitLab.
func (s *Server) updateProject(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	in := readProjectInput(&c, p)
	if err := c.err(); err != nil {
		return err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	if (in.name != nil || in.path != nil || in.visibility != nil) && pa.Level < store.Owner {
		return errForbidden
	}
	cur := pa.Project
	name, path := cur.Name, cur.Path
	if in.name != nil {
		name = *in.name
	}
	if in.path != nil {
		path = *in.path
	}
	var v fieldErrors
	validateProject(&v, name, path)
	if err := v.err(); err != nil {
		return err
	}
	if in.ciConfigPath != nil && strings.TrimSpace(*in.ciConfigPath) == "" {
		def := ".gitlab-ci.yml"
		in.ciConfigPath = &def
	}
	if in.defaultBranch != nil && strings.TrimSpace(*in.defaultBranch) == "" {
		in.defaultBranch = nil
	}
	ctx := r.Context()
	var updated store.Project
	err = store.InTx(ctx, s.pool, func(q *store.Queries) error {
		nameTaken, pathTaken, err := q.ProjectTaken(ctx, cur.NamespaceID, name, path, cur.ID)
		if err != nil {
			return err
		}
		// Only what changes can clash.
		nameTaken = nameTaken && in.name != nil
		pathTaken = pathTaken && in.path != nil
		if nameTaken || pathTaken {
			takenErrors(&v, nameTaken, pathTaken)
			return v.err()
		}
		updated, err = q.UpdateProject(ctx, cur.ID, store.ProjectUpdate{
			Name: in.name, Path: in.path, Description: in.description, Visibility: in.visibility,
			DefaultBranch: in.defaultBranch, CIConfigPath: in.ciConfigPath,
		})
		return err
	})
	if errors.Is(err, store.ErrDuplicate) {
		takenErrors(&v, false, true)
		return v.err()
	}
	if err != nil {
		return err
	}
	s.invalidate(ctx, event.Invalidation{ProjectID: cur.ID})
	out, err := s.renderProjects(ctx, nil, []store.Project{updated})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// deleteProject is DELETE /projects/:id, for Owners. GitLab deletes in the
// background and answers 202; here the project is gone when it answers.
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	pa, err := s.project(r, store.Owner)
	if err != nil {
		return err
	}
	if err := s.q.DeleteProject(r.Context(), pa.Project.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.invalidate(r.Context(), event.Invalidation{ProjectID: pa.Project.ID})
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "202 Accepted"})
	return nil
}

// memberUserID parses the :user_id of a member route.
func memberUserID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(pathVar(r, "user_id"), 10, 64)
	if err != nil {
		return 0, paramError("user_id is invalid")
	}
	return id, nil
}

// writeMembers answers a page of members.
func (s *Server) writeMembers(w http.ResponseWriter, r *http.Request, list func(query string, page store.Page) ([]store.Member, int, error)) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	query, _ := c.optionalString(p, "query")
	if err := c.err(); err != nil {
		return err
	}
	page := pageOf(r)
	ms, total, err := list(query, page)
	if err != nil {
		return err
	}
	out := make([]entity.Member, len(ms))
	for i, m := range ms {
		out[i] = entity.NewMember(s.cfg.ExternalURL, m)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listProjectMembers is GET /projects/:id/members: direct members.
func (s *Server) listProjectMembers(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	return s.writeMembers(w, r, func(query string, page store.Page) ([]store.Member, int, error) {
		return s.q.ListProjectMembers(r.Context(), pa.Project.ID, query, page)
	})
}

// listAllProjectMembers is GET /projects/:id/members/all: direct members
// and the members of the project's group, each once at its highest level.
func (s *Server) listAllProjectMembers(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	return s.writeMembers(w, r, func(query string, page store.Page) ([]store.Member, int, error) {
		return s.q.ListAllProjectMembers(r.Context(), pa.Project.ID, query, page)
	})
}

// getProjectMember is GET /projects/:id/members/:user_id.
func (s *Server) getProjectMember(w http.ResponseWriter, r *http.Request) error {
	return s.getMember(w, r, (*store.Queries).ProjectMember)
}

// getAllProjectMember is GET /projects/:id/members/all/:user_id.
func (s *Server) getAllProjectMember(w http.ResponseWriter, r *http.Request) error {
	return s.getMember(w, r, (*store.Queries).AllProjectMember)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request,
	find func(q *store.Queries, ctx context.Context, projectID, userID int64) (store.Member, error)) error {
	userID, err := memberUserID(r)
	if err != nil {
		return err
	}
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	m, err := find(s.q, r.Context(), pa.Project.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errMemberNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewMember(s.cfg.ExternalURL, m))
	return nil
}

// accessLevels are the roles a member may have.
var accessLevels = map[int64]bool{
	store.Guest: true, store.Reporter: true, store.Developer: true, store.Maintainer: true, store.Owner: true,
}

// readAccessLevel reads the required access_level of a member request.
func readAccessLevel(c *paramChecks, p params) int {
	if !p.has("access_level") || p["access_level"] == nil {
		c.fail("access_level is missing")
		return 0
	}
	level, ok := c.optionalInt(p, "access_level")
	if ok && !accessLevels[level] {
		c.fail("access_level does not have a valid value")
	}
	return int(level)
}

// memberToAdd resolves the user_id or username of a request that adds a
// member: exactly one of them, as GitLab requires.
func (s *Server) memberToAdd(ctx context.Context, c *paramChecks, p params) func() (store.User, error) {
	uid, hasUID := c.optionalInt(p, "user_id")
	username, hasUsername := c.optionalString(p, "username")
	switch {
	case hasUID && hasUsername:
		c.fail("user_id, username are mutually exclusive")
	case !hasUID && !hasUsername:
		c.fail("user_id, username are missing, at least one parameter must be provided")
	}
	return func() (store.User, error) {
		var u store.User
		var err error
		if hasUID {
			u, err = s.q.UserByID(ctx, uid)
		} else {
			u, err = s.q.UserByUsername(ctx, username)
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, errUserNotFound
		}
		return u, err
	}
}

// addProjectMember is POST /projects/:id/members, for Maintainers; only an
// Owner may add an Owner.
func (s *Server) addProjectMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	level := readAccessLevel(&c, p)
	findUser := s.memberToAdd(ctx, &c, p)
	expires := c.optionalDate(p, "expires_at")
	if err := c.err(); err != nil {
		return err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	if level == store.Owner && pa.Level < store.Owner {
		return errForbidden
	}
	u, err := findUser()
	if err != nil {
		return err
	}
	m, err := s.q.AddProjectMember(ctx, pa.Project.ID, u.ID, level, expires)
	if errors.Is(err, store.ErrDuplicate) {
		return errMemberExists
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.NewMember(s.cfg.ExternalURL, m))
	return nil
}

// updateProjectMember is PUT /projects/:id/members/:user_id, for
// Maintainers; only an Owner may make or change an Owner.
func (s *Server) updateProjectMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	userID, err := memberUserID(r)
	if err != nil {
		c.fail("user_id is invalid")
	}
	level := readAccessLevel(&c, p)
	expires := c.optionalDate(p, "expires_at")
	if err := c.err(); err != nil {
		return err
	}
	pa, err := s.project(r, store.Maintainer)
	if err != nil {
		return err
	}
	cur, err := s.q.ProjectMember(ctx, pa.Project.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errMemberNotFound
	}
	if err != nil {
		return err
	}
	if (level == store.Owner || cur.AccessLevel == store.Owner) && pa.Level < store.Owner {
		return errForbidden
	}
	m, err := s.q.UpdateProjectMember(ctx, pa.Project.ID, userID, level, p.has("expires_at"), expires)
	if errors.Is(err, store.ErrNotFound) {
		return errMemberNotFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewMember(s.cfg.ExternalURL, m))
	return nil
}

// deleteProjectMember is DELETE /projects/:id/members/:user_id: a
// Maintainer removes a member (an Owner only if it is one), or a member
// leaves.
func (s *Server) deleteProjectMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	caller, err := s.requireUser(r)
	if err != nil {
		return err
	}
	userID, err := memberUserID(r)
	if err != nil {
		return err
	}
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return err
	}
	cur, err := s.q.ProjectMember(ctx, pa.Project.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errMemberNotFound
	}
	if err != nil {
		return err
	}
	if userID != caller.ID {
		if pa.Level < store.Maintainer || (cur.AccessLevel == store.Owner && pa.Level < store.Owner) {
			return errForbidden
		}
	}
	if err := s.q.DeleteProjectMember(ctx, pa.Project.ID, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupAccess is a group as one user sees it.
type groupAccess struct {
	Group store.Namespace
	User  *store.User
	// Level is the user's membership level; administrators count as
	// Owner.
	Level int
}

// group resolves the route's :id (a group id or URL-encoded path) for the
// request's user. A group that does not exist or that the user may not see
// is "404 Group Not Found"; below min is 403, or 401 when anonymous.
func (s *Server) group(r *http.Request, min int) (groupAccess, error) {
	user, err := s.currentUser(r)
	if err != nil {
		return groupAccess{}, err
	}
	idOrPath := pathVar(r, "id")
	var g store.Namespace
	if id, perr := strconv.ParseInt(idOrPath, 10, 64); perr == nil {
		g, err = s.q.NamespaceByID(r.Context(), id)
	} else {
		g, err = s.q.NamespaceByPath(r.Context(), idOrPath)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.Kind != "group") {
		return groupAccess{}, errGroupNotFound
	}
	if err != nil {
		return groupAccess{}, err
	}
	ga := groupAccess{Group: g, User: user}
	if user != nil {
		if user.IsAdmin {
			ga.Level = store.Owner
		} else if ga.Level, err = s.q.NamespaceAccess(r.Context(), user.ID, g.ID); err != nil {
			return groupAccess{}, err
		}
	}
	visible := ga.Level > store.NoAccess || g.Visibility == "public" || (g.Visibility == "internal" && user != nil)
	if !visible {
		return groupAccess{}, errGroupNotFound
	}
	if ga.Level < min {
		if user == nil {
			return groupAccess{}, errUnauthorized
		}
		return groupAccess{}, errForbidden
	}
	return ga, nil
}

// createGroup is POST /groups. Any user may create a group and becomes its
// Owner. Subgroups are not supported: this service's paths have one
// namespace level.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	name := c.required(p, "name")
	path := c.required(p, "path")
	description, _ := c.optionalString(p, "description")
	visibility, hasVisibility := c.optionalString(p, "visibility")
	if hasVisibility {
		c.values("visibility", visibility, visibilities...)
	} else {
		visibility = "private"
	}
	parentID, hasParent := c.optionalInt(p, "parent_id")
	if err := c.err(); err != nil {
		return err
	}
	if hasParent && parentID != 0 {
		return badRequest("subgroups are not supported")
	}
	var v fieldErrors
	if strings.TrimSpace(name) == "" {
		v.add("name", "can't be blank")
	}
	if !validNamespacePath(path) {
		v.add("path", namespacePathMessage)
	}
	if len(v.fields) > 0 {
		return groupSaveError(v)
	}
	g, err := s.q.CreateGroup(r.Context(), store.NewGroup{Name: name, Path: path, Description: description,
		Visibility: visibility, CreatorID: u.ID})
	if errors.Is(err, store.ErrDuplicate) {
		v.add("path", "has already been taken")
		return groupSaveError(v)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.NewGroupDetail(s.cfg.ExternalURL, g, nil))
	return nil
}

// groupSaveError is GitLab's answer for a group that fails validation: a
// 400 whose message prints the errors as a Ruby hash.
func groupSaveError(v fieldErrors) error {
	var b strings.Builder
	b.WriteString("Failed to save group {")
	for i, f := range v.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(":" + f + "=>[")
		for j, m := range v.msgs[f] {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(m))
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return messageError(http.StatusBadRequest, b.String())
}

// listGroups is GET /groups: for a signed-in user the groups it is a member
// of (all it may see with all_available=true), for an administrator every
// group, for anyone else the public groups; by name.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	viewer, err := s.currentUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	f := store.GroupFilter{AllAvailable: viewer == nil}
	if viewer != nil {
		f.UserID, f.Admin = &viewer.ID, viewer.IsAdmin
	}
	if all, ok := c.optionalBool(p, "all_available"); ok {
		f.AllAvailable = all || viewer == nil
	}
	f.Owned, _ = c.optionalBool(p, "owned")
	f.Search, _ = c.optionalString(p, "search")
	if min, ok := c.optionalInt(p, "min_access_level"); ok {
		if !accessLevels[min] {
			c.fail("min_access_level does not have a valid value")
		}
		f.MinAccessLevel = int(min)
	}
	if err := c.err(); err != nil {
		return err
	}
	page := pageOf(r)
	gs, total, err := s.q.ListGroups(r.Context(), f, page)
	if err != nil {
		return err
	}
	out := make([]entity.Group, len(gs))
	for i, g := range gs {
		out[i] = entity.NewGroup(s.cfg.ExternalURL, g)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// groupProjectsLimit bounds the projects GET /groups/:id embeds, as GitLab
// does.
const groupProjectsLimit = 100

// getGroup is GET /groups/:id, with the group's projects the caller may
// see.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	ga, err := s.group(r, store.NoAccess)
	if err != nil {
		return err
	}
	f := store.ProjectFilter{NamespaceID: &ga.Group.ID}
	if ga.User != nil {
		f.UserID, f.Admin = &ga.User.ID, ga.User.IsAdmin
	}
	ps, _, err := s.q.ListProjects(r.Context(), f, store.Page{Number: 1, PerPage: groupProjectsLimit})
	if err != nil {
		return err
	}
	projects, err := s.renderProjects(r.Context(), nil, ps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.NewGroupDetail(s.cfg.ExternalURL, ga.Group, projects))
	return nil
}

// listGroupProjects is GET /groups/:id/projects.
func (s *Server) listGroupProjects(w http.ResponseWriter, r *http.Request) error {
	ga, err := s.group(r, store.NoAccess)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	f, simple, err := readProjectFilter(p, ga.User)
	if err != nil {
		return err
	}
	f.NamespaceID = &ga.Group.ID
	return s.writeProjects(w, r, ga.User, f, simple)
}

// listGroupMembers is GET /groups/:id/members.
func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request) error {
	ga, err := s.group(r, store.NoAccess)
	if err != nil {
		return err
	}
	return s.writeMembers(w, r, func(query string, page store.Page) ([]store.Member, int, error) {
		return s.q.ListGroupMembers(r.Context(), ga.Group.ID, query, page)
	})
}

// addGroupMember is POST /groups/:id/members, for the group's Owners.
func (s *Server) addGroupMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	level := readAccessLevel(&c, p)
	findUser := s.memberToAdd(ctx, &c, p)
	if err := c.err(); err != nil {
		return err
	}
	ga, err := s.group(r, store.Owner)
	if err != nil {
		return err
	}
	u, err := findUser()
	if err != nil {
		return err
	}
	m, err := s.q.AddGroupMember(ctx, ga.Group.ID, u.ID, level)
	if errors.Is(err, store.ErrDuplicate) {
		return errMemberExists
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.NewMember(s.cfg.ExternalURL, m))
	return nil
}

// listNamespaces is GET /namespaces: the caller's personal namespace and
// its groups; every namespace for an administrator.
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var c paramChecks
	search, _ := c.optionalString(p, "search")
	if err := c.err(); err != nil {
		return err
	}
	page := pageOf(r)
	ns, total, err := s.q.ListNamespaces(r.Context(), u.ID, u.IsAdmin, search, page)
	if err != nil {
		return err
	}
	out := make([]entity.NamespaceBasic, len(ns))
	for i, n := range ns {
		out[i] = entity.NewNamespaceBasic(s.cfg.ExternalURL, n)
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getNamespace is GET /namespaces/:id (an id or URL-encoded path): one's
// own namespace or a group one belongs to; any for an administrator.
func (s *Server) getNamespace(w http.ResponseWriter, r *http.Request) error {
	u, err := s.requireUser(r)
	if err != nil {
		return err
	}
	idOrPath := pathVar(r, "id")
	var n store.Namespace
	if id, perr := strconv.ParseInt(idOrPath, 10, 64); perr == nil {
		n, err = s.q.NamespaceByID(r.Context(), id)
	} else {
		n, err = s.q.NamespaceByPath(r.Context(), idOrPath)
	}
	if errors.Is(err, store.ErrNotFound) {
		return errNamespaceNotFound
	}
	if err != nil {
		return err
	}
	if !u.IsAdmin {
		level, err := s.q.NamespaceAccess(r.Context(), u.ID, n.ID)
		if err != nil {
			return err
		}
		if level == store.NoAccess {
			return errNamespaceNotFound
		}
	}
	writeJSON(w, http.StatusOK, entity.NewNamespaceBasic(s.cfg.ExternalURL, n))
	return nil
}
