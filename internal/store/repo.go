package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
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
		if a.LastCommitID != "" && parent != nil {
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
