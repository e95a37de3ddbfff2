package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// routesRepository serves GitLab's repository files, commits, branches and
// tags APIs. File paths and ref names arrive URL-encoded as one path segment
// (dir%2Ffile.txt, feature%2Fx); the /raw route is registered before the
// file route so that it wins. GET routes answer HEAD too, as Grape's do;
// a file's and a branch's HEAD have handlers of their own, as in GitLab.
func (s *Server) routesRepository(r *mux.Router) {
	const files = "/projects/{id}/repository/files/{file_path}"
	r.Handle(files+"/raw", s.handle(s.getRawFile)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(files, s.handle(s.headFile)).Methods(http.MethodHead)
	r.Handle(files, s.handle(s.getFile)).Methods(http.MethodGet)
	r.Handle(files, s.handle(s.createFile)).Methods(http.MethodPost)
	r.Handle(files, s.handle(s.updateFile)).Methods(http.MethodPut)
	r.Handle(files, s.handle(s.deleteFile)).Methods(http.MethodDelete)

	r.Handle("/projects/{id}/repository/commits", s.handle(s.listCommits)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/projects/{id}/repository/commits", s.handle(s.createCommit)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/repository/commits/{sha}", s.handle(s.getCommit)).Methods(http.MethodGet, http.MethodHead)

	r.Handle("/projects/{id}/repository/branches", s.handle(s.listBranches)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/projects/{id}/repository/branches", s.handle(s.createBranch)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/repository/branches/{branch}", s.handle(s.headBranch)).Methods(http.MethodHead)
	r.Handle("/projects/{id}/repository/branches/{branch}", s.handle(s.getBranch)).Methods(http.MethodGet)
	r.Handle("/projects/{id}/repository/branches/{branch}", s.handle(s.deleteBranch)).Methods(http.MethodDelete)

	r.Handle("/projects/{id}/repository/tags", s.handle(s.listTags)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/projects/{id}/repository/tags", s.handle(s.createTag)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/repository/tags/{tag_name}", s.handle(s.getTag)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/projects/{id}/repository/tags/{tag_name}", s.handle(s.deleteTag)).Methods(http.MethodDelete)
}

// GitLab's answers of the repository endpoints.
var (
	errCommitNotFound = notFound("Commit")
	errFileNotFound   = notFound("File")
	errBranchNotFound = notFound("Branch")
	errTagNotFound    = notFound("Tag")
	errNotOnBranch    = messageError(http.StatusBadRequest, "You can only create or edit files when you are on a branch")
	errFileExists     = messageError(http.StatusBadRequest, "A file with this name already exists")
	errNoSuchFile     = messageError(http.StatusBadRequest, "A file with this name doesn't exist")
	errDirExists      = messageError(http.StatusBadRequest, "A directory with this name already exists")
	errInvalidPath    = paramError(msgInvalidFilePath)
)

// msgInvalidFilePath is Grape's file_path validator failing.
const msgInvalidFilePath = "file_path should be a valid file path"

// errPushDenied is a commit to a protected branch by someone below
// Maintainer. The files API answers it 400 with the message, the commits API
// 403; each handler renders it.
var errPushDenied = errors.New("You are not allowed to push into this branch")

// repoReader resolves :id for reading code, as GitLab's download_code
// allows it: Reporter and up, and anyone who can see a public or internal
// project. A guest of a private project is 403.
func (s *Server) repoReader(r *http.Request) (projectAccess, error) {
	pa, err := s.project(r, store.NoAccess)
	if err != nil {
		return projectAccess{}, err
	}
	if pa.Level >= store.Reporter || pa.Project.Visibility != "private" {
		return pa, nil
	}
	return projectAccess{}, errForbidden
}

// requireLevel is the role check of an endpoint that has already resolved
// its project: 401 for an anonymous request, 403 for too low a role.
func requireLevel(pa projectAccess, min int) error {
	if pa.Level >= min {
		return nil
	}
	if pa.User == nil {
		return errUnauthorized
	}
	return errForbidden
}

// canPush is whether the viewer may push to a branch: developers to an
// unprotected one, maintainers to any.
func canPush(pa projectAccess, protected bool) bool {
	if protected {
		return pa.Level >= store.Maintainer
	}
	return pa.Level >= store.Developer
}

func defaultBranch(p store.Project) string {
	if p.DefaultBranch == nil {
		return ""
	}
	return *p.DefaultBranch
}

// validRefName applies git check-ref-format's rules to a new branch or tag
// name (as refs/heads/<name>) and GitLab's additions: not HEAD, not
// starting with "-", "refs/heads/" or "refs/remotes/". A full commit id is
// refused too, because it could never be addressed by name.
func validRefName(name string) bool {
	if name == "" || name == "HEAD" || name == "@" || store.IsCommitID(name) {
		return false
	}
	for _, prefix := range []string{"-", "refs/heads/", "refs/remotes/", "/"} {
		if strings.HasPrefix(name, prefix) {
			return false
		}
	}
	if strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
		return false
	}
	for _, bad := range []string{"//", "..", "@{"} {
		if strings.Contains(name, bad) {
			return false
		}
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return false
		}
	}
	return true
}

// grapeErrors collects parameter validation failures, which Grape reports
// together in declaration order: {"error":"a is missing, b is empty"}.
type grapeErrors []string

func (e *grapeErrors) add(msg string) { *e = append(*e, msg) }

func (e grapeErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return paramError(strings.Join(e, ", "))
}

// required is a string parameter that must be present ("is missing") and,
// unless blankOK, not blank ("is empty": Grape's allow_blank: false, where
// whitespace counts as blank).
func (e *grapeErrors) required(p params, name string, blankOK bool) string {
	if !p.has(name) || p[name] == nil {
		e.add(name + " is missing")
		return ""
	}
	v, ok := p.str(name)
	if !ok {
		e.add(name + " is invalid")
		return ""
	}
	if !blankOK && strings.TrimSpace(v) == "" {
		e.add(name + " is empty")
	}
	return v
}

// optional is a string parameter that may be absent; present, it must be a
// string and, unless blankOK, not blank.
func (e *grapeErrors) optional(p params, name string, blankOK bool) (string, bool) {
	return e.optionalAs(p, name, name, blankOK)
}

// optionalAs is optional for a parameter that errors call label, as Grape
// names nested parameters by their full path (actions[0][action]).
func (e *grapeErrors) optionalAs(p params, name, label string, blankOK bool) (string, bool) {
	if !p.has(name) || p[name] == nil {
		return "", false
	}
	v, ok := p.str(name)
	if !ok {
		e.add(label + " is invalid")
		return "", false
	}
	if !blankOK && strings.TrimSpace(v) == "" {
		e.add(label + " is empty")
	}
	return v, true
}

// optionalBool is a Grape Boolean parameter: true/false, 1/0, yes/no...
func (e *grapeErrors) optionalBool(p params, name string, def bool) bool {
	v, ok := p.str(name)
	if !p.has(name) || p[name] == nil {
		return def
	}
	if ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "t", "1", "yes", "y", "on":
			return true
		case "false", "f", "0", "no", "n", "off":
			return false
		}
	}
	e.add(name + " is invalid")
	return def
}

// oneOf checks a parameter against Grape's values: list.
func (e *grapeErrors) oneOf(name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	e.add(name + " does not have a valid value")
}

// decodeContent turns a content parameter into bytes: as given for
// encoding "text", decoded for "base64" (tolerating line breaks and missing
// padding, as Ruby's decoder does).
func decodeContent(content, encoding string) ([]byte, error) {
	if encoding != "base64" {
		return []byte(content), nil
	}
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, content)
	if b, err := base64.StdEncoding.DecodeString(clean); err == nil {
		return b, nil
	}
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err == nil {
		return b, nil
	}
	return nil, badRequest("content is not valid base64")
}

// checkWritePath applies Gitaly's rules to a path a commit writes: not
// empty, no directory traversal, no empty or "." segment.
func checkWritePath(path string) error {
	if path == "" {
		return messageError(http.StatusBadRequest, "You must provide a file path")
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == ".." {
			return messageError(http.StatusBadRequest, "Path cannot include directory traversal")
		}
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." {
			return messageError(http.StatusBadRequest, "invalid path: '"+path+"'")
		}
	}
	return nil
}

// commitChange is a commit a files or commits endpoint asks for.
type commitChange struct {
	req store.CommitRequest
	// startDefaultsToBranch: a missing start_branch means the branch itself
	// (GitLab's start_branch ||= branch), so a commit to a missing branch
	// of a non-empty repository fails instead of starting from nothing.
	startDefaultsToBranch bool
}

// commitResult is what a commit did.
type commitResult struct {
	commit        store.Commit
	createdBranch bool
}

// commit validates a change as GitLab's Commits::CreateService does, then
// makes it in one transaction: the commit, the branch it creates or moves,
// and the project's default branch when this is its first branch. A race
// with another commit creating the same branch is retried. Caches learn of
// a new branch once the transaction has committed.
func (s *Server) commit(ctx context.Context, pa projectAccess, ch commitChange) (commitResult, error) {
	req := ch.req
	if ch.startDefaultsToBranch && req.StartBranch == "" && req.StartSHA == "" {
		req.StartBranch = req.Branch
	}
	if req.AuthorName == "" || req.AuthorEmail == "" {
		if pa.User != nil {
			if req.AuthorName == "" {
				req.AuthorName = pa.User.Name
			}
			if req.AuthorEmail == "" {
				req.AuthorEmail = pa.User.Email
			}
		}
	}
	if pa.User != nil {
		req.CommitterName, req.CommitterEmail = pa.User.Name, pa.User.Email
	}
	var res commitResult
	var defaultSet bool
	for attempt := 0; ; attempt++ {
		err := store.InTx(ctx, s.pool, func(q *store.Queries) error {
			r, err := s.prepareCommit(ctx, q, pa, req)
			if err != nil {
				return err
			}
			c, created, err := q.CommitFiles(ctx, r)
			if err != nil {
				return err
			}
			res = commitResult{commit: c, createdBranch: created}
			if created {
				defaultSet, err = q.SetDefaultBranchIfUnset(ctx, pa.Project.ID, req.Branch)
				return err
			}
			return nil
		})
		if errors.Is(err, store.ErrRefMoved) && attempt < 2 {
			continue
		}
		if err != nil {
			return commitResult{}, commitError(err)
		}
		break
	}
	if res.createdBranch {
		s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID, Ref: req.Branch})
	}
	if defaultSet {
		s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID})
	}
	return res, nil
}

// prepareCommit runs GitLab's checks of a commit against the repository as
// the transaction sees it and returns the request CommitFiles should make.
func (s *Server) prepareCommit(ctx context.Context, q *store.Queries, pa projectAccess, req store.CommitRequest) (store.CommitRequest, error) {
	pid := pa.Project.ID
	hasBranches, err := q.HasBranches(ctx, pid)
	if err != nil {
		return req, err
	}
	empty := !hasBranches
	branch, err := q.RefByName(ctx, pid, "branch", req.Branch)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return req, err
	}
	if exists && !canPush(pa, branch.Protected) {
		return req, errPushDenied
	}
	if req.StartSHA != "" {
		switch {
		case req.StartBranch != "":
			return req, messageError(http.StatusBadRequest, "You can't pass both start_branch and start_sha")
		case !store.IsCommitID(req.StartSHA):
			return req, messageError(http.StatusBadRequest, fmt.Sprintf("Invalid start_sha '%s'", req.StartSHA))
		}
		if _, err := q.CommitBySHA(ctx, pid, strings.ToLower(req.StartSHA)); errors.Is(err, store.ErrNotFound) {
			return req, messageError(http.StatusBadRequest, fmt.Sprintf("Cannot find start_sha '%s'", req.StartSHA))
		} else if err != nil {
			return req, err
		}
		req.StartSHA = strings.ToLower(req.StartSHA)
	}
	if req.StartBranch != "" && !empty {
		if _, err := q.RefByName(ctx, pid, "branch", req.StartBranch); errors.Is(err, store.ErrNotFound) {
			return req, errNotOnBranch
		} else if err != nil {
			return req, err
		}
	}
	different := req.StartBranch != req.Branch || req.StartSHA != ""
	if !empty && different && exists {
		return req, messageError(http.StatusBadRequest,
			fmt.Sprintf("A branch called '%s' already exists. Switch to that branch in order to make changes", req.Branch))
	}
	if (different || !exists) && !validRefName(req.Branch) {
		return req, messageError(http.StatusBadRequest,
			fmt.Sprintf("Something went wrong when we tried to create '%s' for you: Branch name is invalid", req.Branch))
	}
	switch {
	case exists:
		req.StartBranch, req.StartSHA = "", ""
	case empty && req.StartSHA == "":
		// The first commit of an empty repository starts from nothing,
		// whatever start_branch says.
		req.StartBranch = ""
	}
	return req, nil
}

// commitError turns the store's repository errors into GitLab's answers.
func commitError(err error) error {
	switch {
	case errors.Is(err, store.ErrFileExists):
		return errFileExists
	case errors.Is(err, store.ErrFileNotFound):
		return errNoSuchFile
	case errors.Is(err, store.ErrDirectoryExists):
		return errDirExists
	case errors.Is(err, store.ErrStartNotFound):
		return errNotOnBranch
	}
	return err
}

// repoDateTime parses an ISO 8601 date or date-time parameter.
func repoDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a date")
}

// versionLess orders names as git's version:refname sort does: runs of
// digits compare as numbers.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(a[:min(da, 18)], 10, 64)
			nb, _ := strconv.ParseUint(b[:min(db, 18)], 10, 64)
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// sortRefsByVersion orders refs by version name, descending when desc.
func sortRefsByVersion(refs []store.Ref, desc bool) {
	sort.SliceStable(refs, func(i, j int) bool {
		if desc {
			return versionLess(refs[j].Name, refs[i].Name)
		}
		return versionLess(refs[i].Name, refs[j].Name)
	})
}
