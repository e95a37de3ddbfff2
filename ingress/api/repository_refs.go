package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// refCommits loads the commits refs point at, by id.
func (s *Server) refCommits(ctx context.Context, projectID int64, refs []store.Ref) (map[string]store.Commit, error) {
	shas := make([]string, len(refs))
	for i, ref := range refs {
		shas[i] = ref.CommitSHA
	}
	cs, err := s.q.CommitsBySHA(ctx, projectID, shas)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if _, ok := cs[ref.CommitSHA]; !ok {
			return nil, fmt.Errorf("%s %s of project %d points at missing commit %s", ref.Kind, ref.Name, projectID, ref.CommitSHA)
		}
	}
	return cs, nil
}

// renderBranches renders branches for the viewer: whether each is merged
// into the default branch, whether the viewer may push to it.
func (s *Server) renderBranches(ctx context.Context, pa projectAccess, branches []store.Ref) ([]entity.Branch, error) {
	cs, err := s.refCommits(ctx, pa.Project.ID, branches)
	if err != nil {
		return nil, err
	}
	def := defaultBranch(pa.Project)
	merged := map[string]bool{}
	defHead := ""
	if def != "" {
		head, err := s.q.RefByName(ctx, pa.Project.ID, "branch", def)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			defHead = head.CommitSHA
			shas := make([]string, len(branches))
			for i, b := range branches {
				shas[i] = b.CommitSHA
			}
			if merged, err = s.q.IsAncestorOf(ctx, pa.Project.ID, defHead, shas); err != nil {
				return nil, err
			}
		}
	}
	out := make([]entity.Branch, len(branches))
	for i, b := range branches {
		out[i] = entity.NewBranch(s.cfg.ExternalURL, pa.Project.PathWithNamespace, b, cs[b.CommitSHA], entity.BranchView{
			// GitLab counts a branch at the default branch's head as not
			// merged.
			Merged:  merged[b.CommitSHA] && b.CommitSHA != defHead,
			CanPush: canPush(pa, b.Protected),
			Default: b.Name == def,
		})
	}
	return out, nil
}

// renderTags renders tags with their commits.
func (s *Server) renderTags(ctx context.Context, pa projectAccess, tags []store.Ref) ([]entity.Tag, error) {
	cs, err := s.refCommits(ctx, pa.Project.ID, tags)
	if err != nil {
		return nil, err
	}
	out := make([]entity.Tag, len(tags))
	for i, t := range tags {
		out[i] = entity.NewTag(s.cfg.ExternalURL, pa.Project.PathWithNamespace, t, cs[t.CommitSHA])
	}
	return out, nil
}

// listBranches answers GET /projects/:id/repository/branches: by name,
// filtered by search (^prefix, suffix$ or anywhere, case-insensitively),
// sort name_asc (default), name_desc, updated_asc or updated_desc.
func (s *Server) listBranches(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	search, _ := errs.optional(p, "search", true)
	sortBy, _ := errs.optional(p, "sort", true)
	if err := errs.err(); err != nil {
		return err
	}
	f := store.RefFilter{ProjectID: pa.Project.ID, Kind: "branch", Search: search, OrderBy: "name"}
	switch sortBy {
	case "name_desc":
		f.Desc = true
	case "updated_asc":
		f.OrderBy = "updated"
	case "updated_desc":
		f.OrderBy, f.Desc = "updated", true
	}
	page := pageOf(r)
	refs, total, err := s.q.ListRefsFiltered(r.Context(), f, page)
	if err != nil {
		return err
	}
	out, err := s.renderBranches(r.Context(), pa, refs)
	if err != nil {
		return err
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findBranch resolves :branch of a readable project: 404 Branch Not Found.
func (s *Server) findBranch(r *http.Request, pa projectAccess) (store.Ref, error) {
	b, err := s.q.RefByName(r.Context(), pa.Project.ID, "branch", pathVar(r, "branch"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Ref{}, errBranchNotFound
	}
	return b, err
}

func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	b, err := s.findBranch(r, pa)
	if err != nil {
		return err
	}
	out, err := s.renderBranches(r.Context(), pa, []store.Ref{b})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// headBranch answers whether a branch exists: 204 or 404, no body.
func (s *Server) headBranch(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	if _, err := s.findBranch(r, pa); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createBranch answers POST /projects/:id/repository/branches: branch
// (the new name) at ref (a branch, tag or commit). On an empty repository
// GitLab first commits an empty README.md to the default branch, so that
// there is something to branch from; so does this.
func (s *Server) createBranch(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	name := errs.required(p, "branch", false)
	ref := errs.required(p, "ref", false)
	if err := errs.err(); err != nil {
		return err
	}
	if err := requireLevel(pa, store.Developer); err != nil {
		return err
	}
	ctx := r.Context()
	has, err := s.q.HasBranches(ctx, pa.Project.ID)
	if err != nil {
		return err
	}
	if !has {
		def := defaultBranch(pa.Project)
		if def == "" {
			def = "main"
		}
		res, err := s.commit(ctx, pa, commitChange{req: store.CommitRequest{
			ProjectID: pa.Project.ID, Branch: def, Message: "Add README.md",
			Actions: []store.FileAction{{Action: "create", Path: "README.md", Content: []byte{}}},
		}})
		if err != nil && !errors.Is(err, errFileExists) {
			return err
		}
		if res.createdBranch && pa.Project.DefaultBranch == nil {
			pa.Project.DefaultBranch = &def
		}
	}
	if !validRefName(name) {
		return messageError(http.StatusBadRequest, "Branch name is invalid")
	}
	errExists := messageError(http.StatusBadRequest, "Branch already exists")
	if _, err := s.q.RefByName(ctx, pa.Project.ID, "branch", name); err == nil {
		return errExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c, err := s.q.ResolveRevision(ctx, pa.Project.ID, ref, defaultBranch(pa.Project))
	if errors.Is(err, store.ErrNotFound) {
		return messageError(http.StatusBadRequest, fmt.Sprintf("Failed to create branch '%s': invalid reference name '%s'", name, ref))
	}
	if err != nil {
		return err
	}
	b, err := s.q.CreateRef(ctx, pa.Project.ID, "branch", name, c.SHA, "")
	if errors.Is(err, store.ErrDuplicate) {
		return errExists
	}
	if err != nil {
		return err
	}
	s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID, Ref: name})
	out, err := s.renderBranches(ctx, pa, []store.Ref{b})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out[0])
	return nil
}

// deleteBranch answers DELETE /projects/:id/repository/branches/:branch:
// 204, except for the default branch, which GitLab's push checks keep, and
// a protected branch below Maintainer.
func (s *Server) deleteBranch(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	if err := requireLevel(pa, store.Developer); err != nil {
		return err
	}
	b, err := s.findBranch(r, pa)
	if err != nil {
		return err
	}
	if b.Name == defaultBranch(pa.Project) {
		return messageError(http.StatusBadRequest, "The default branch of a project cannot be deleted.")
	}
	if b.Protected && pa.Level < store.Maintainer {
		return messageError(http.StatusBadRequest,
			"You are not allowed to delete protected branches from this project. Only a project maintainer or owner can delete a protected branch.")
	}
	ctx := r.Context()
	if err := s.q.DeleteRef(ctx, pa.Project.ID, "branch", b.Name); errors.Is(err, store.ErrNotFound) {
		return errBranchNotFound
	} else if err != nil {
		return err
	}
	s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID, Ref: b.Name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listTags answers GET /projects/:id/repository/tags: order_by updated
// (the commit's date; default), name or version, sort desc (default) or
// asc, and search as for branches.
func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	sortDir, ok := errs.optional(p, "sort", true)
	if ok {
		errs.oneOf("sort", sortDir, "asc", "desc")
	} else {
		sortDir = "desc"
	}
	orderBy, ok := errs.optional(p, "order_by", true)
	if ok {
		errs.oneOf("order_by", orderBy, "name", "updated", "version")
	} else {
		orderBy = "updated"
	}
	search, _ := errs.optional(p, "search", true)
	if err := errs.err(); err != nil {
		return err
	}
	ctx := r.Context()
	page := pageOf(r)
	f := store.RefFilter{ProjectID: pa.Project.ID, Kind: "tag", Search: search, OrderBy: orderBy, Desc: sortDir == "desc"}
	var refs []store.Ref
	var total int
	if orderBy == "version" {
		// Version order is not SQL's: sort every match here, then page.
		f.OrderBy = "name"
		all, n, err := s.q.ListRefsFiltered(ctx, f, store.Page{Number: 1, PerPage: 1 << 30})
		if err != nil {
			return err
		}
		sortRefsByVersion(all, f.Desc)
		total = n
		lo := min(page.Offset(), len(all))
		refs = all[lo:min(lo+page.Limit(), len(all))]
	} else if refs, total, err = s.q.ListRefsFiltered(ctx, f, page); err != nil {
		return err
	}
	out, err := s.renderTags(ctx, pa, refs)
	if err != nil {
		return err
	}
	s.setPageHeaders(w, r, page, total)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findTag resolves :tag_name: 404 Tag Not Found.
func (s *Server) findTag(r *http.Request, pa projectAccess) (store.Ref, error) {
	t, err := s.q.RefByName(r.Context(), pa.Project.ID, "tag", pathVar(r, "tag_name"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Ref{}, errTagNotFound
	}
	return t, err
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	t, err := s.findTag(r, pa)
	if err != nil {
		return err
	}
	out, err := s.renderTags(r.Context(), pa, []store.Ref{t})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// createTag answers POST /projects/:id/repository/tags: tag_name at ref; a
// message (trimmed, as GitLab trims it) makes the tag annotated.
func (s *Server) createTag(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var errs grapeErrors
	name := errs.required(p, "tag_name", true)
	ref := errs.required(p, "ref", true)
	message, _ := errs.optional(p, "message", true)
	if err := errs.err(); err != nil {
		return err
	}
	if err := requireLevel(pa, store.Developer); err != nil {
		return err
	}
	if strings.TrimSpace(ref) == "" {
		return messageError(http.StatusBadRequest, "Target is empty")
	}
	if !validRefName(name) {
		return messageError(http.StatusBadRequest, "Tag name invalid")
	}
	ctx := r.Context()
	c, err := s.q.ResolveRevision(ctx, pa.Project.ID, ref, defaultBranch(pa.Project))
	if errors.Is(err, store.ErrNotFound) {
		return messageError(http.StatusBadRequest, fmt.Sprintf("Target %s is invalid", ref))
	}
	if err != nil {
		return err
	}
	t, err := s.q.CreateRef(ctx, pa.Project.ID, "tag", name, c.SHA, strings.TrimSpace(message))
	if errors.Is(err, store.ErrDuplicate) {
		return messageError(http.StatusBadRequest, fmt.Sprintf("Tag %s already exists", name))
	}
	if err != nil {
		return err
	}
	s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID, Ref: name})
	writeJSON(w, http.StatusCreated, entity.NewTag(s.cfg.ExternalURL, pa.Project.PathWithNamespace, t, c))
	return nil
}

// deleteTag answers DELETE /projects/:id/repository/tags/:tag_name: 204.
// A protected tag takes a maintainer.
func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request) error {
	pa, err := s.repoReader(r)
	if err != nil {
		return err
	}
	t, err := s.findTag(r, pa)
	if err != nil {
		return err
	}
	need := store.Developer
	if t.Protected {
		need = store.Maintainer
	}
	if err := requireLevel(pa, need); err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.q.DeleteRef(ctx, pa.Project.ID, "tag", t.Name); errors.Is(err, store.ErrNotFound) {
		return errTagNotFound
	} else if err != nil {
		return err
	}
	s.invalidate(ctx, event.Invalidation{ProjectID: pa.Project.ID, Ref: t.Name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
