package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

// renderCommitDetail renders a commit with its stats (unless withStats is
// false) and its latest pipeline.
func (s *Server) renderCommitDetail(ctx context.Context, pa projectAccess, c store.Commit, withStats bool) (entity.CommitDetail, error) {
	var stats *store.DiffStats
	if withStats {
		st, err := s.q.CommitStats(ctx, c)
		if err != nil {
			return entity.CommitDetail{}, err
		}
		stats = &st
	}
	var last *store.Pipeline
	pls, _, err := s.q.ListPipelines(ctx, store.PipelineFilter{ProjectID: pa.Project.ID, SHA: c.SHA, OrderBy: "id", Sort: "desc"},
		store.Page{Number: 1, PerPage: 1})
	if err != nil {
		return entity.CommitDetail{}, err
	}
	if len(pls) > 0 {
		last = &pls[0]
	}
	return entity.NewCommitDetail(s.cfg.ExternalURL, pa.Project.PathWithNamespace, pa.Project.ID, c, stats, last), nil
}

// getCommit answers GET /projects/:id/repository/commits/:sha, where :sha
// is a commit id, an abbreviation of one, or a branch or tag name.
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	withStats := errs.optionalBool(p, "stats", true)
	if err := errs.err(); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := s.q.ResolveRevision(ctx, pa.Project.ID, pathVar(r, "sha"), defaultBranch(pa.Project))
	if errors.Is(err, store.ErrNotFound) {
		return errCommitNotFound
	}
	if err != nil {
		return err
	}
	d, err := s.renderCommitDetail(ctx, pa, c, withStats)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// commitWithStats is GitLab's CommitWithStats entity, for lists asked
// with_stats.
type commitWithStats struct {
	entity.Commit
	Stats entity.CommitStats `json:"stats"`
}

// listCommits answers GET /projects/:id/repository/commits: the history of
// ref_name (the default branch when absent), newest first. A ref that does
// not exist, or an empty repository, has no commits.
func (s *Server) listCommits(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	refName, _ := errs.optional(p, "ref_name", true)
	var filter store.CommitLogFilter
	for _, name := range []string{"since", "until"} {
		v, ok := errs.optional(p, name, true)
		if !ok {
			continue
		}
		t, err := repoDateTime(v)
		if err != nil {
			errs.add(name + " is invalid")
			continue
		}
		if name == "since" {
			filter.Since = &t
		} else {
			filter.Until = &t
		}
	}
	filter.Path, _ = errs.optional(p, "path", true)
	withStats := errs.optionalBool(p, "with_stats", false)
	withTrailers := errs.optionalBool(p, "trailers", false)
	if err := errs.err(); err != nil {
		return err
	}
	ctx := r.Context()
	page := pageOf(r)
	if refName == "" {
		refName = defaultBranch(pa.Project)
	}
	var commits []store.Commit
	total := 0
	if refName != "" {
		head, err := s.q.ResolveRevision(ctx, pa.Project.ID, refName, defaultBranch(pa.Project))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if commits, total, err = s.q.CommitLog(ctx, pa.Project.ID, head.SHA, filter, page); err != nil {
				return err
			}
		}
	}
	out := make([]any, 0, len(commits))
	for _, c := range commits {
		e := entity.NewCommit(s.cfg.ExternalURL, pa.Project.PathWithNamespace, c, withTrailers)
		if !withStats {
			out = append(out, e)
			continue
		}
		st, err := s.q.CommitStats(ctx, c)
		if err != nil {
			return err
		}
		out = append(out, commitWithStats{Commit: e,
			Stats: entity.CommitStats{Additions: st.Additions, Deletions: st.Deletions, Total: st.Additions + st.Deletions}})
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// commitActions reads the actions parameter: a JSON array of objects, or
// the same as form fields (actions[0][action]=create...), in index order.
func commitActions(v any) ([]map[string]any, bool) {
	switch a := v.(type) {
	case []any:
		out := make([]map[string]any, 0, len(a))
		for _, item := range a {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	case map[string]any:
		keys := make([]string, 0, len(a))
		for k := range a {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			ni, ei := strconv.Atoi(keys[i])
			nj, ej := strconv.Atoi(keys[j])
			if ei == nil && ej == nil {
				return ni < nj
			}
			return keys[i] < keys[j]
		})
		out := make([]map[string]any, 0, len(a))
		for _, k := range keys {
			m, ok := a[k].(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

// readActions validates each action as Grape's nested params do and turns
// it into a store action. Content errors (bad base64, bad paths) come after
// every parameter error, as they come from the commit itself in GitLab.
func readActions(raw []map[string]any, errs *grapeErrors) ([]store.FileAction, error) {
	type pending struct {
		action            store.FileAction
		content, encoding string
		hasContent        bool
	}
	var queued []pending
	for i, m := range raw {
		p := params(m)
		name := func(field string) string { return fmt.Sprintf("actions[%d][%s]", i, field) }
		var pd pending
		action, ok := errs.optionalAs(p, "action", name("action"), false)
		switch {
		case !ok && (!p.has("action") || p["action"] == nil):
			errs.add(name("action") + " is missing")
		case ok && strings.TrimSpace(action) != "":
			errs.oneOf(name("action"), action, "create", "delete", "move", "update", "chmod")
		}
		filePath, ok := errs.optionalAs(p, "file_path", name("file_path"), true)
		if !ok && (!p.has("file_path") || p["file_path"] == nil) {
			errs.add(name("file_path") + " is missing")
		}
		prev, hasPrev := errs.optionalAs(p, "previous_path", name("previous_path"), true)
		if action == "move" && !hasPrev {
			errs.add(name("previous_path") + " is missing")
		}
		if action == "chmod" && !p.has("execute_filemode") {
			errs.add(name("execute_filemode") + " is missing")
		}
		pd.content, pd.hasContent = errs.optionalAs(p, "content", name("content"), true)
		if enc, ok := errs.optionalAs(p, "encoding", name("encoding"), true); ok {
			errs.oneOf(name("encoding"), enc, "text", "base64")
			pd.encoding = enc
		}
		last, _ := errs.optionalAs(p, "last_commit_id", name("last_commit_id"), true)
		pd.action = store.FileAction{Action: action, Path: strings.TrimLeft(filePath, "/"),
			PreviousPath: strings.TrimLeft(prev, "/"), LastCommitID: last}
		queued = append(queued, pd)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	out := make([]store.FileAction, 0, len(queued))
	for _, pd := range queued {
		a := pd.action
		if err := checkWritePath(a.Path); err != nil {
			return nil, err
		}
		if a.Action == "move" {
			if err := checkWritePath(a.PreviousPath); err != nil {
				return nil, err
			}
		}
		switch {
		case pd.hasContent:
			b, err := decodeContent(pd.content, pd.encoding)
			if err != nil {
				return nil, err
			}
			a.Content = b
		case a.Action == "create" || a.Action == "update":
			a.Content = []byte{}
		}
		out = append(out, a)
	}
	return out, nil
}

// createCommit answers POST /projects/:id/repository/commits: several file
// actions as one commit, 201 with the commit.
func (s *Server) createCommit(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	branch := errs.required(p, "branch", false)
	message := errs.required(p, "commit_message", true)
	var raw []map[string]any
	if !p.has("actions") || p["actions"] == nil {
		errs.add("actions is missing")
	} else if a, ok := commitActions(p["actions"]); !ok {
		errs.add("actions is invalid")
	} else {
		raw = a
	}
	startBranch, hasStartBranch := errs.optional(p, "start_branch", false)
	startSHA, hasStartSHA := errs.optional(p, "start_sha", false)
	if hasStartBranch && hasStartSHA {
		errs.add("start_branch, start_sha are mutually exclusive")
	}
	authorEmail, _ := errs.optional(p, "author_email", true)
	authorName, _ := errs.optional(p, "author_name", true)
	withStats := errs.optionalBool(p, "stats", true)
	actions, err := readActions(raw, &errs)
	if err != nil {
		return err
	}
	if err := requireLevel(pa, store.Developer); err != nil {
		return err
	}
	res, err := s.commit(r.Context(), pa, commitChange{
		req: store.CommitRequest{
			ProjectID: pa.Project.ID, Branch: branch, StartBranch: startBranch, StartSHA: startSHA, Message: message,
			AuthorName: authorName, AuthorEmail: authorEmail, Actions: actions,
		},
		startDefaultsToBranch: true,
	})
	var changed *store.FileChangedError
	switch {
	case errors.Is(err, errPushDenied):
		return messageError(http.StatusForbidden, "403 Forbidden - "+errPushDenied.Error())
	case errors.As(err, &changed):
		return messageError(http.StatusBadRequest, "The file has changed since you started editing it: "+changed.Path)
	case err != nil:
		return err
	}
	d, err := s.renderCommitDetail(r.Context(), pa, res.commit, withStats)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}
