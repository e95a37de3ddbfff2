package store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ref is a branch or a tag.
type Ref struct {
	ProjectID int64     `db:"project_id"`
	Kind      string    `db:"kind"` // "branch" or "tag"
	Name      string    `db:"name"`
	CommitSHA string    `db:"commit_sha"`
	Message   string    `db:"message"`
	Protected bool      `db:"protected"`
	CreatedAt time.Time `db:"created_at"`
}

// Commit is a commit of the minimal repository. Tree maps each file path to
// the git blob id of its content.
type Commit struct {
	ProjectID      int64             `db:"project_id"`
	SHA            string            `db:"sha"`
	ParentIDs      []string          `db:"parent_ids"`
	Tree           map[string]string `db:"tree"`
	Title          string            `db:"title"`
	Message        string            `db:"message"`
	AuthorName     string            `db:"author_name"`
	AuthorEmail    string            `db:"author_email"`
	AuthoredDate   time.Time         `db:"authored_date"`
	CommitterName  string            `db:"committer_name"`
	CommitterEmail string            `db:"committer_email"`
	CommittedDate  time.Time         `db:"committed_date"`
}

// Repository errors that callers turn into GitLab's messages.
var (
	ErrFileExists   = errors.New("a file with this name already exists")
	ErrFileNotFound = errors.New("file not found")
	ErrRefMoved     = errors.New("branch moved during the commit")
	// ErrDirectoryExists is a create or move onto a path that is a
	// directory of the tree.
	ErrDirectoryExists = errors.New("a directory with this name already exists")
	// ErrStartNotFound is a StartBranch or StartSHA that names no commit.
	ErrStartNotFound = errors.New("start of the new branch not found")
)

// FileChangedError is an action whose LastCommitID is no longer the last
// commit that changed its file on the branch: someone committed to the file
// since the caller read it.
type FileChangedError struct {
	Path string
}

func (e *FileChangedError) Error() string { return "file " + e.Path + " changed since it was read" }

const refColumns = `r.project_id, r.kind, r.name, r.commit_sha, r.message, r.protected, r.created_at`

// RefsNamed returns the branch and/or tag called name: none, one, or two when
// the name is ambiguous.
func (q *Queries) RefsNamed(ctx context.Context, projectID int64, name string) ([]Ref, error) {
	return collectAll[Ref](q.db.Query(ctx, `SELECT `+refColumns+` FROM refs r WHERE r.project_id = $1 AND r.name = $2 ORDER BY r.kind`, projectID, name))
}

// RefByName returns one branch or tag.
func (q *Queries) RefByName(ctx context.Context, projectID int64, kind, name string) (Ref, error) {
	return collectOne[Ref](q.db.Query(ctx, `SELECT `+refColumns+` FROM refs r WHERE r.project_id = $1 AND r.kind = $2 AND r.name = $3`, projectID, kind, name))
}

// ListRefs returns a page of a project's branches or tags whose name contains
// search, by name, and how many there are in all.
func (q *Queries) ListRefs(ctx context.Context, projectID int64, kind, search string, page Page) ([]Ref, int, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(search) + "%"
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM refs WHERE project_id = $1 AND kind = $2 AND name LIKE $3`,
		projectID, kind, like).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	refs, err := collectAll[Ref](q.db.Query(ctx, `SELECT `+refColumns+` FROM refs r WHERE r.project_id = $1 AND r.kind = $2 AND r.name LIKE $3
		ORDER BY r.name LIMIT $4 OFFSET $5`, projectID, kind, like, page.Limit(), page.Offset()))
	return refs, total, err
}

// CreateRef points a new branch or tag at a commit. ErrDuplicate if it exists.
func (q *Queries) CreateRef(ctx context.Context, projectID int64, kind, name, sha, message string) (Ref, error) {
	return collectOne[Ref](q.db.Query(ctx, `INSERT INTO refs AS r (project_id, kind, name, commit_sha, message)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+refColumns, projectID, kind, name, sha, message))
}

// DeleteRef removes a branch or tag.
func (q *Queries) DeleteRef(ctx context.Context, projectID int64, kind, name string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM refs WHERE project_id = $1 AND kind = $2 AND name = $3`, projectID, kind, name)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

const commitColumns = `c.project_id, c.sha, c.parent_ids, c.tree, c.title, c.message, c.author_name, c.author_email,
	c.authored_date, c.committer_name, c.committer_email, c.committed_date`

// CommitBySHA returns a commit by its full id or a unique prefix of at least
// 7 characters. Anything but hexadecimal digits is ErrNotFound (and never
// reaches the LIKE pattern, where % and _ would be wildcards).
func (q *Queries) CommitBySHA(ctx context.Context, projectID int64, sha string) (Commit, error) {
	if !isHex(sha) {
		return Commit{}, ErrNotFound
	}
	if len(sha) == 40 {
		return collectOne[Commit](q.db.Query(ctx, `SELECT `+commitColumns+` FROM commits c WHERE c.project_id = $1 AND c.sha = $2`, projectID, sha))
	}
	if len(sha) < 7 || len(sha) > 40 {
		return Commit{}, ErrNotFound
	}
	cs, err := collectAll[Commit](q.db.Query(ctx, `SELECT `+commitColumns+` FROM commits c WHERE c.project_id = $1 AND c.sha LIKE $2 LIMIT 2`,
		projectID, strings.ToLower(sha)+"%"))
	if err != nil {
		return Commit{}, err
	}
	if len(cs) != 1 {
		return Commit{}, ErrNotFound
	}
	return cs[0], nil
}

// Blob returns the content of a blob.
func (q *Queries) Blob(ctx context.Context, sha string) ([]byte, error) {
	var content []byte
	err := q.db.QueryRow(ctx, `SELECT content FROM blobs WHERE sha = $1`, sha).Scan(&content)
	return content, mapErr(err)
}

// FileAt returns the content and blob id of path in the commit sha.
// ErrFileNotFound if the commit has no such file.
func (q *Queries) FileAt(ctx context.Context, projectID int64, sha, path string) ([]byte, string, error) {
	var blobSHA *string
	var content []byte
	err := q.db.QueryRow(ctx, `SELECT c.tree ->> $3, b.content FROM commits c
		LEFT JOIN blobs b ON b.sha = c.tree ->> $3 WHERE c.project_id = $1 AND c.sha = $2`, projectID, sha, path).Scan(&blobSHA, &content)
	if err != nil {
		return nil, "", mapErr(err)
	}
	if blobSHA == nil {
		return nil, "", ErrFileNotFound
	}
	return content, *blobSHA, nil
}

// FileAction is one change of a commit, as GitLab's commits API names them.
type FileAction struct {
	Action  string // "create", "update", "delete", "move", "chmod"
	Path    string
	Content []byte
	// PreviousPath is the file a "move" renames to Path. A move with nil
	// Content keeps the file's content.
	PreviousPath string
	// LastCommitID, when set, must be the last commit that changed the file
	// on the branch, else the commit fails with a *FileChangedError.
	LastCommitID string
}

// CommitRequest is a commit to make on a branch.
type CommitRequest struct {
	ProjectID   int64
	Branch      string
	StartBranch string // where a new branch starts; "" means Branch itself or the empty tree
	// StartSHA is the commit a new branch starts at, instead of StartBranch.
	StartSHA    string
	Message     string
	AuthorName  string
	AuthorEmail string
	// CommitterName and CommitterEmail default to the author.
	CommitterName  string
	CommitterEmail string
	Actions        []FileAction
}

// BlobSHA is git's id of a blob with content.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// commitSHA derives a commit's id from everything it holds, git-style, so the
// same content, parents, author and time always give the same id.
func commitSHA(c Commit) string {
	paths := make([]string, 0, len(c.Tree))
	for p := range c.Tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tree := sha1.New()
	for _, p := range paths {
		fmt.Fprintf(tree, "%s\x00%s\n", p, c.Tree[p])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tree %x\n", tree.Sum(nil))
	for _, p := range c.ParentIDs {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author %s <%s> %d +0000\n", c.AuthorName, c.AuthorEmail, c.AuthoredDate.Unix())
	fmt.Fprintf(&b, "committer %s <%s> %d +0000\n\n%s", c.CommitterName, c.CommitterEmail, c.CommittedDate.UnixNano(), c.Message)
	h := sha1.New()
	fmt.Fprintf(h, "commit %d\x00%s", b.Len(), b.String())
	return hex.EncodeToString(h.Sum(nil))
}

// CommitFiles applies actions on top of the branch's head (or StartBranch's
// head for a new branch; the empty tree when neither exists), stores the new
// commit, and moves or creates the branch. Run it in a transaction: the branch
// row is locked so that concurrent commits to one branch serialise. It returns
// the commit and whether the branch was created.
func (q *Queries) CommitFiles(ctx context.Context, req CommitRequest) (Commit, bool, error) {
	var parent *Commit
	created := false
	head, err := q.lockBranch(ctx, req.ProjectID, req.Branch)
	switch {
	case err == nil:
		c, err := q.CommitBySHA(ctx, req.ProjectID, head)
		if err != nil {
			return Commit{}, false, fmt.Errorf("read head of %s: %w", req.Branch, err)
		}
		parent = &c
	case errors.Is(err, ErrNotFound):
		created = true
		start := req.StartSHA
		if start == "" && req.StartBranch != "" {
			ref, err := q.RefByName(ctx, req.ProjectID, "branch", req.StartBranch)
			if errors.Is(err, ErrNotFound) {
				return Commit{}, false, ErrStartNotFound
			}
			if err != nil {
				return Commit{}, false, err
			}
			start = ref.CommitSHA
		}
		if start != "" {
			c, err := q.CommitBySHA(ctx, req.ProjectID, start)
			if errors.Is(err, ErrNotFound) {
				return Commit{}, false, ErrStartNotFound
			}
			if err != nil {
				return Commit{}, false, err
			}
			parent = &c
		}
	default:
		return Commit{}, false, err
	}

	tree := map[string]string{}
	var parents []string
	if parent != nil {
		for k, v := range parent.Tree {
			tree[k] = v
		}
		parents = []string{parent.SHA}
	}
	for _, a := range req.Actions {
		if _, had := tree[a.Path]; a.LastCommitID != "" && parent != nil && had {
			last, err := q.LastCommitForPath(ctx, req.ProjectID, parent.SHA, a.Path)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return Commit{}, false, err
			}
			if err == nil && last != a.LastCommitID {
				return Commit{}, false, &FileChangedError{Path: a.Path}
			}
		}
		_, exists := tree[a.Path]
		switch a.Action {
		case "create":
			if err := checkNewPath(tree, a.Path); err != nil {
				return Commit{}, false, err
			}
		case "update", "delete", "chmod":
			if !exists {
				return Commit{}, false, ErrFileNotFound
			}
		case "move":
			prev, ok := tree[a.PreviousPath]
			if !ok {
				return Commit{}, false, ErrFileNotFound
			}
			delete(tree, a.PreviousPath)
			if err := checkNewPath(tree, a.Path); err != nil {
				return Commit{}, false, err
			}
			if a.Content == nil {
				tree[a.Path] = prev
				continue
			}
		default:
			return Commit{}, false, fmt.Errorf("unknown file action %q", a.Action)
		}
		switch a.Action {
		case "delete":
			delete(tree, a.Path)
			continue
		case "chmod":
			// The minimal repository keeps no file modes: nothing changes.
			continue
		}
		sha := BlobSHA(a.Content)
		if _, err := q.db.Exec(ctx, `INSERT INTO blobs (sha, content) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sha, a.Content); err != nil {
			return Commit{}, false, mapErr(err)
		}
		tree[a.Path] = sha
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	title, _, _ := strings.Cut(req.Message, "\n")
	committerName, committerEmail := req.CommitterName, req.CommitterEmail
	if committerName == "" && committerEmail == "" {
		committerName, committerEmail = req.AuthorName, req.AuthorEmail
	}
	c := Commit{
		ProjectID: req.ProjectID, ParentIDs: parents, Tree: tree, Title: title, Message: req.Message,
		AuthorName: req.AuthorName, AuthorEmail: req.AuthorEmail, AuthoredDate: now,
		CommitterName: committerName, CommitterEmail: committerEmail, CommittedDate: now,
	}
	if c.ParentIDs == nil {
		c.ParentIDs = []string{}
	}
	c.SHA = commitSHA(c)
	if _, err := q.db.Exec(ctx, `INSERT INTO commits (project_id, sha, parent_ids, tree, title, message, author_name, author_email,
			authored_date, committer_name, committer_email, committed_date)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ProjectID, c.SHA, c.ParentIDs, c.Tree, c.Title, c.Message, c.AuthorName, c.AuthorEmail,
		c.AuthoredDate, c.CommitterName, c.CommitterEmail, c.CommittedDate); err != nil {
		return Commit{}, false, mapErr(err)
	}
	if created {
		if _, err := q.CreateRef(ctx, req.ProjectID, "branch", req.Branch, c.SHA, ""); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Commit{}, false, ErrRefMoved
			}
			return Commit{}, false, err
		}
	} else if _, err := q.db.Exec(ctx, `UPDATE refs SET commit_sha = $3 WHERE project_id = $1 AND kind = 'branch' AND name = $2`,
		req.ProjectID, req.Branch, c.SHA); err != nil {
		return Commit{}, false, mapErr(err)
	}
	return c, created, nil
}

// lockBranch returns the head of a branch and holds its row lock until the
// transaction ends.
func (q *Queries) lockBranch(ctx context.Context, projectID int64, name string) (string, error) {
	var sha string
	err := q.db.QueryRow(ctx, `SELECT commit_sha FROM refs WHERE project_id = $1 AND kind = 'branch' AND name = $2 FOR UPDATE`,
		projectID, name).Scan(&sha)
	return sha, mapErr(err)
}

// isHex reports whether s is a non-empty string of lower- or upper-case
// hexadecimal digits.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsCommitID reports whether s has the shape of a full commit id.
func IsCommitID(s string) bool { return len(s) == 40 && isHex(s) }

// checkNewPath refuses a path that is taken in tree: by a file of that name
// (ErrFileExists), by a file where one of its directories would be
// (ErrFileExists), or by a directory of that name (ErrDirectoryExists).
func checkNewPath(tree map[string]string, path string) error {
	if _, ok := tree[path]; ok {
		return ErrFileExists
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			if _, ok := tree[path[:i]]; ok {
				return ErrFileExists
			}
		}
	}
	prefix := path + "/"
	for p := range tree {
		if strings.HasPrefix(p, prefix) {
			return ErrDirectoryExists
		}
	}
	return nil
}

// ResolveRevision finds the commit rev names, the way git rev-parse reads
// it: a full commit id; a tag, then a branch of that name (git prefers
// refs/tags); refs/heads/<name> and refs/tags/<name>; HEAD for the default
// branch; and last a unique abbreviated id of at least 7 digits.
func (q *Queries) ResolveRevision(ctx context.Context, projectID int64, rev, defaultBranch string) (Commit, error) {
	if rev == "" {
		return Commit{}, ErrNotFound
	}
	if IsCommitID(rev) {
		return q.CommitBySHA(ctx, projectID, strings.ToLower(rev))
	}
	refs, err := q.RefsNamed(ctx, projectID, rev)
	if err != nil {
		return Commit{}, err
	}
	var ref *Ref
	for i := range refs {
		if ref == nil || refs[i].Kind == "tag" {
			ref = &refs[i]
		}
	}
	if ref == nil {
		kind, name := "", ""
		switch {
		case strings.HasPrefix(rev, "refs/heads/"):
			kind, name = "branch", strings.TrimPrefix(rev, "refs/heads/")
		case strings.HasPrefix(rev, "refs/tags/"):
			kind, name = "tag", strings.TrimPrefix(rev, "refs/tags/")
		case rev == "HEAD" && defaultBranch != "":
			kind, name = "branch", defaultBranch
		}
		if kind != "" {
			r, err := q.RefByName(ctx, projectID, kind, name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return Commit{}, err
			}
			if err == nil {
				ref = &r
			}
		}
	}
	if ref != nil {
		return q.CommitBySHA(ctx, projectID, ref.CommitSHA)
	}
	return q.CommitBySHA(ctx, projectID, rev)
}

// CommitsBySHA returns the project's commits with the given full ids, by id.
// Ids without a commit are left out.
func (q *Queries) CommitsBySHA(ctx context.Context, projectID int64, shas []string) (map[string]Commit, error) {
	cs, err := collectAll[Commit](q.db.Query(ctx, `SELECT `+commitColumns+` FROM commits c WHERE c.project_id = $1 AND c.sha = ANY($2)`,
		projectID, shas))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Commit, len(cs))
	for _, c := range cs {
		out[c.SHA] = c
	}
	return out, nil
}

// CommitLogFilter narrows a commit log as GitLab's list parameters do.
type CommitLogFilter struct {
	// Since and Until bound the committed date, inclusively.
	Since, Until *time.Time
	// Path keeps the commits that changed the file Path or a file under
	// the directory Path, compared with their first parent.
	Path string
}

// CommitLog returns a page of the commits reachable from sha that f keeps,
// newest first, and how many it keeps in all.
func (q *Queries) CommitLog(ctx context.Context, projectID int64, sha string, f CommitLogFilter, page Page) ([]Commit, int, error) {
	type row struct {
		Commit
		Total int `db:"total"`
	}
	where := []string{"TRUE"}
	args := []any{projectID, sha}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Since != nil {
		add("c.committed_date >= $?", *f.Since)
	}
	if f.Until != nil {
		add("c.committed_date <= $?", *f.Until)
	}
	if p := strings.Trim(f.Path, "/"); p != "" {
		args = append(args, p, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p)+"/%")
		n, d := len(args)-1, len(args)
		files := func(tree string) string {
			return fmt.Sprintf(`(SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(%s) e WHERE e.key = $%d OR e.key LIKE $%d)`, tree, n, d)
		}
		where = append(where, files("c.tree")+` IS DISTINCT FROM `+
			files(`(SELECT p.tree FROM commits p WHERE p.project_id = $1 AND p.sha = c.parent_ids[1])`))
	}
	args = append(args, page.Limit(), page.Offset())
	rows, err := collectAll[row](q.db.Query(ctx, fmt.Sprintf(`WITH RECURSIVE walk (sha, parent_ids) AS (
			SELECT c.sha, c.parent_ids FROM commits c WHERE c.project_id = $1 AND c.sha = $2
			UNION
			SELECT p.sha, p.parent_ids FROM walk w JOIN commits p ON p.project_id = $1 AND p.sha = ANY (w.parent_ids)),
		kept AS (
			SELECT `+commitColumns+` FROM walk w JOIN commits c ON c.project_id = $1 AND c.sha = w.sha WHERE %s)
		SELECT c.*, (SELECT count(*) FROM kept) AS total FROM kept c
		ORDER BY c.committed_date DESC, c.sha LIMIT $%d OFFSET $%d`, strings.Join(where, " AND "), len(args)-1, len(args)), args...))
	if err != nil {
		return nil, 0, err
	}
	if len(rows) == 0 {
		// Past the last page no row carries the total; count on its own.
		var total int
		err := q.db.QueryRow(ctx, fmt.Sprintf(`WITH RECURSIVE walk (sha, parent_ids) AS (
				SELECT c.sha, c.parent_ids FROM commits c WHERE c.project_id = $1 AND c.sha = $2
				UNION
				SELECT p.sha, p.parent_ids FROM walk w JOIN commits p ON p.project_id = $1 AND p.sha = ANY (w.parent_ids))
			SELECT count(*) FROM walk w JOIN commits c ON c.project_id = $1 AND c.sha = w.sha WHERE %s`, strings.Join(where, " AND ")),
			args[:len(args)-2]...).Scan(&total)
		return []Commit{}, total, mapErr(err)
	}
	out := make([]Commit, len(rows))
	for i, r := range rows {
		out[i] = r.Commit
	}
	return out, rows[0].Total, nil
}

// LastCommitForPath returns the last commit at or before sha that changed
// path, following first parents: the oldest commit of the unbroken run, back
// from sha, whose tree holds the same blob at path. ErrNotFound if sha does
// not exist.
func (q *Queries) LastCommitForPath(ctx context.Context, projectID int64, sha, path string) (string, error) {
	var last string
	err := q.db.QueryRow(ctx, `WITH RECURSIVE run (sha, parent_ids, blob, depth) AS (
			SELECT c.sha, c.parent_ids, c.tree ->> $3, 0 FROM commits c WHERE c.project_id = $1 AND c.sha = $2
			UNION ALL
			SELECT p.sha, p.parent_ids, p.tree ->> $3, r.depth + 1
			FROM run r JOIN commits p ON p.project_id = $1 AND p.sha = r.parent_ids[1]
			WHERE (p.tree ->> $3) IS NOT DISTINCT FROM r.blob)
		SELECT sha FROM run ORDER BY depth DESC LIMIT 1`, projectID, sha, path).Scan(&last)
	return last, mapErr(err)
}

// IsAncestorOf returns which of shas are reachable from head (head itself
// included).
func (q *Queries) IsAncestorOf(ctx context.Context, projectID int64, head string, shas []string) (map[string]bool, error) {
	rows, err := q.db.Query(ctx, `WITH RECURSIVE walk (sha, parent_ids) AS (
			SELECT c.sha, c.parent_ids FROM commits c WHERE c.project_id = $1 AND c.sha = $2
			UNION
			SELECT p.sha, p.parent_ids FROM walk w JOIN commits p ON p.project_id = $1 AND p.sha = ANY (w.parent_ids))
		SELECT DISTINCT sha FROM walk WHERE sha = ANY ($3)`, projectID, head, shas)
	if err != nil {
		return nil, mapErr(err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, mapErr(err)
	}
	out := make(map[string]bool, len(found))
	for _, s := range found {
		out[s] = true
	}
	return out, nil
}

// HasBranches reports whether the project's repository has any branch; a
// repository without one is what GitLab calls empty.
func (q *Queries) HasBranches(ctx context.Context, projectID int64) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM refs WHERE project_id = $1 AND kind = 'branch')`, projectID).Scan(&ok)
	return ok, mapErr(err)
}

// SetDefaultBranchIfUnset makes branch the project's default branch unless
// it already has one, as the first push to an empty GitLab project does. It
// reports whether it changed the project.
func (q *Queries) SetDefaultBranchIfUnset(ctx context.Context, projectID int64, branch string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE projects SET default_branch = $2 WHERE id = $1 AND default_branch IS NULL`, projectID, branch)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// RefFilter selects branches or tags as GitLab's list endpoints do.
type RefFilter struct {
	ProjectID int64
	Kind      string // "branch" or "tag"
	// Search matches names case-insensitively: "^term" at the start,
	// "term$" at the end, otherwise anywhere.
	Search string
	// OrderBy is "name" or "updated" (the date of the commit the ref points
	// at); Desc reverses it.
	OrderBy string
	Desc    bool
}

// ListRefsFiltered returns a page of the refs f selects and how many it
// selects in all.
func (q *Queries) ListRefsFiltered(ctx context.Context, f RefFilter, page Page) ([]Ref, int, error) {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	term := strings.ToLower(f.Search)
	var like string
	switch {
	case strings.HasPrefix(term, "^"):
		like = esc.Replace(term[1:]) + "%"
	case strings.HasSuffix(term, "$"):
		like = "%" + esc.Replace(strings.TrimSuffix(term, "$"))
	default:
		like = "%" + esc.Replace(term) + "%"
	}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM refs WHERE project_id = $1 AND kind = $2 AND lower(name) LIKE $3`,
		f.ProjectID, f.Kind, like).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	order := "r.name " + dir
	if f.OrderBy == "updated" {
		order = "c.committed_date " + dir + " NULLS LAST, r.name " + dir
	}
	refs, err := collectAll[Ref](q.db.Query(ctx, `SELECT `+refColumns+` FROM refs r
		LEFT JOIN commits c ON c.project_id = r.project_id AND c.sha = r.commit_sha
		WHERE r.project_id = $1 AND r.kind = $2 AND lower(r.name) LIKE $3
		ORDER BY `+order+` LIMIT $4 OFFSET $5`, f.ProjectID, f.Kind, like, page.Limit(), page.Offset()))
	return refs, total, err
}

// TagObjectSHA is the id an annotated tag's object would have in git: what
// GitLab shows as the tag's target. Lightweight tags (no message) target
// their commit.
func TagObjectSHA(r Ref) string {
	if r.Message == "" {
		return r.CommitSHA
	}
	body := fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger %d +0000\n\n%s\n", r.CommitSHA, r.Name, r.CreatedAt.Unix(), r.Message)
	h := sha1.New()
	fmt.Fprintf(h, "tag %d\x00%s", len(body), body)
	return hex.EncodeToString(h.Sum(nil))
}

// DiffStats counts the lines a commit adds and removes against its first
// parent, as git diff --numstat sums them.
type DiffStats struct {
	Additions int
	Deletions int
}

// CommitStats compares c's tree with its first parent's (the empty tree for
// a root commit) and counts changed lines file by file.
func (q *Queries) CommitStats(ctx context.Context, c Commit) (DiffStats, error) {
	before := map[string]string{}
	if len(c.ParentIDs) > 0 {
		p, err := q.CommitBySHA(ctx, c.ProjectID, c.ParentIDs[0])
		if err != nil && !errors.Is(err, ErrNotFound) {
			return DiffStats{}, err
		}
		if err == nil {
			before = p.Tree
		}
	}
	type change struct{ old, new string }
	var changes []change
	need := map[string]bool{}
	for path, blob := range c.Tree {
		if old := before[path]; old != blob {
			changes = append(changes, change{old, blob})
			need[blob] = true
			if old != "" {
				need[old] = true
			}
		}
	}
	for path, old := range before {
		if _, ok := c.Tree[path]; !ok {
			changes = append(changes, change{old, ""})
			need[old] = true
		}
	}
	if len(changes) == 0 {
		return DiffStats{}, nil
	}
	shas := make([]string, 0, len(need))
	for s := range need {
		shas = append(shas, s)
	}
	rows, err := q.db.Query(ctx, `SELECT sha, content FROM blobs WHERE sha = ANY ($1)`, shas)
	if err != nil {
		return DiffStats{}, mapErr(err)
	}
	content := map[string][]byte{}
	var sha string
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&sha, &data}, func() error {
		content[sha] = data
		return nil
	}); err != nil {
		return DiffStats{}, mapErr(err)
	}
	var st DiffStats
	for _, ch := range changes {
		add, del := lineDiff(splitLines(content[ch.old]), splitLines(content[ch.new]))
		st.Additions += add
		st.Deletions += del
	}
	return st, nil
}

// splitLines cuts b after every newline; a last line without one is a line
// too, and differs from the same text with one, as in git.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

// maxDiffCells bounds the quadratic part of lineDiff; past it, the differing
// middle of two files counts as wholly replaced.
const maxDiffCells = 4_000_000

// lineDiff counts the lines a minimal line diff from a to b adds and
// deletes: lines outside their longest common subsequence.
func lineDiff(a, b []string) (added, deleted int) {
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	if len(a) == 0 || len(b) == 0 || len(a)*len(b) > maxDiffCells {
		return len(b), len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				cur[j] = prev[j-1] + 1
			case prev[j] >= cur[j-1]:
				cur[j] = prev[j]
			default:
				cur[j] = cur[j-1]
			}
		}
		prev, cur = cur, prev
	}
	common := prev[len(b)]
	return len(b) - common, len(a) - common
}
