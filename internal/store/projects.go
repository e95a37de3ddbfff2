package store

import (
	"context"
	"fmt"
	"time"
)

// Access levels, as GitLab numbers them.
const (
	NoAccess   = 0
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// Namespace is a user's personal namespace (Kind "user", OwnerID set) or a
// group (Kind "group").
type Namespace struct {
	ID          int64     `db:"id"`
	Kind        string    `db:"kind"`
	Name        string    `db:"name"`
	Path        string    `db:"path"`
	OwnerID     *int64    `db:"owner_id"`
	Description string    `db:"description"`
	Visibility  string    `db:"visibility"`
	CreatedAt   time.Time `db:"created_at"`
}

// Project is a GitLab project with its namespace's identity.
type Project struct {
	ID                int64     `db:"id"`
	NamespaceID       int64     `db:"namespace_id"`
	NamespaceKind     string    `db:"namespace_kind"`
	NamespaceName     string    `db:"namespace_name"`
	NamespacePath     string    `db:"namespace_path"`
	NamespaceOwnerID  *int64    `db:"namespace_owner_id"`
	Name              string    `db:"name"`
	Path              string    `db:"path"`
	PathWithNamespace string    `db:"path_with_namespace"`
	Description       string    `db:"description"`
	Visibility        string    `db:"visibility"`
	DefaultBranch     *string   `db:"default_branch"`
	CIConfigPath      string    `db:"ci_config_path"`
	CreatorID         *int64    `db:"creator_id"`
	CreatedAt         time.Time `db:"created_at"`
	LastActivityAt    time.Time `db:"last_activity_at"`
}

const projectSelect = `SELECT p.id, p.namespace_id, n.kind AS namespace_kind, n.name AS namespace_name,
	n.path AS namespace_path, n.owner_id AS namespace_owner_id, p.name, p.path, p.path_with_namespace,
	p.description, p.visibility, p.default_branch, p.ci_config_path, p.creator_id, p.created_at, p.last_activity_at
	FROM projects p JOIN namespaces n ON n.id = p.namespace_id`

// ProjectByID returns one project.
func (q *Queries) ProjectByID(ctx context.Context, id int64) (Project, error) {
	return collectOne[Project](q.db.Query(ctx, projectSelect+` WHERE p.id = $1`, id))
}

// ProjectByPath returns a project by its full path, case-insensitively.
func (q *Queries) ProjectByPath(ctx context.Context, path string) (Project, error) {
	return collectOne[Project](q.db.Query(ctx, projectSelect+` WHERE lower(p.path_with_namespace) = lower($1)`, path))
}

// AccessLevel is the access userID has to projectID: the highest of a direct
// membership, a membership of the project's group, and ownership of the
// personal namespace it lives in. Administrators are not special here.
func (q *Queries) AccessLevel(ctx context.Context, userID, projectID int64) (int, error) {
	var level int
	err := q.db.QueryRow(ctx, `SELECT GREATEST(
			COALESCE((SELECT access_level FROM project_members WHERE project_id = p.id AND user_id = $1
				AND (expires_at IS NULL OR expires_at >= current_date)), 0),
			COALESCE((SELECT access_level FROM namespace_members WHERE namespace_id = p.namespace_id AND user_id = $1), 0),
			CASE WHEN n.kind = 'user' AND n.owner_id = $1 THEN 50 ELSE 0 END)
		FROM projects p JOIN namespaces n ON n.id = p.namespace_id WHERE p.id = $2`, userID, projectID).Scan(&level)
	return level, mapErr(err)
}

// NewProject is what creating a project needs.
type NewProject struct {
	NamespaceID int64
	Name        string
	Path        string
	Description string
	Visibility  string
	// DefaultBranch stays nil unless the creator named one, so that the
	// first branch created in the empty repository becomes the default, as
	// in GitLab.
	DefaultBranch *string
	CIConfigPath  string
	CreatorID     int64
}

// CreateProject inserts a project; its full path is the namespace's path and
// its own. ErrNotFound if the namespace does not exist, ErrDuplicate if the
// full path is taken.
func (q *Queries) CreateProject(ctx context.Context, np NewProject) (Project, error) {
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace, description,
			visibility, default_branch, ci_config_path, creator_id)
		SELECT n.id, $2, $3, n.path || '/' || $3, $4, $5, $6, $7, $8 FROM namespaces n WHERE n.id = $1
		RETURNING id`, np.NamespaceID, np.Name, np.Path, np.Description, np.Visibility, np.DefaultBranch,
		np.CIConfigPath, np.CreatorID).Scan(&id)
	if err != nil {
		return Project{}, mapErr(err)
	}
	return q.ProjectByID(ctx, id)
}

// ProjectTaken reports whether another project than exceptID in the
// namespace already has the name, and whether anything holds the full path
// namespace path + "/" + path.
func (q *Queries) ProjectTaken(ctx context.Context, namespaceID int64, name, path string, exceptID int64) (nameTaken, pathTaken bool, err error) {
	err = q.db.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM projects WHERE namespace_id = $1 AND name = $2 AND id <> $4),
			EXISTS (SELECT 1 FROM projects p JOIN namespaces n ON n.id = $1
				WHERE lower(p.path_with_namespace) = lower(n.path || '/' || $3) AND p.id <> $4)`,
		namespaceID, name, path, exceptID).Scan(&nameTaken, &pathTaken)
	return nameTaken, pathTaken, mapErr(err)
}

// ProjectUpdate holds the attributes to change; nil leaves one as it is.
type ProjectUpdate struct {
	Name          *string
	Path          *string
	Description   *string
	Visibility    *string
	DefaultBranch *string
	CIConfigPath  *string
}

// UpdateProject changes a project's attributes; a new path moves its full
// path too. ErrDuplicate if the new full path is taken.
func (q *Queries) UpdateProject(ctx context.Context, id int64, u ProjectUpdate) (Project, error) {
	tag, err := q.db.Exec(ctx, `UPDATE projects p SET
			name = COALESCE($2, p.name),
			path = COALESCE($3, p.path),
			path_with_namespace = CASE WHEN $3::text IS NULL THEN p.path_with_namespace
				ELSE (SELECT n.path FROM namespaces n WHERE n.id = p.namespace_id) || '/' || $3 END,
			description = COALESCE($4, p.description),
			visibility = COALESCE($5, p.visibility),
			default_branch = COALESCE($6, p.default_branch),
			ci_config_path = COALESCE($7, p.ci_config_path),
			last_activity_at = now()
		WHERE p.id = $1`, id, u.Name, u.Path, u.Description, u.Visibility, u.DefaultBranch, u.CIConfigPath)
	if err != nil {
		return Project{}, mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return Project{}, ErrNotFound
	}
	return q.ProjectByID(ctx, id)
}

// DeleteProject removes a project and, by cascade, everything it holds:
// foreign keys, and for its pipelines the triggers of schema 0011.
func (q *Queries) DeleteProject(ctx context.Context, id int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM projects WHERE id = $1`, id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ProjectFilter selects projects as GitLab's GET /projects does.
type ProjectFilter struct {
	// UserID is the viewer; nil is an anonymous viewer, who sees public
	// projects only.
	UserID *int64
	// Admin sees every project.
	Admin bool
	// Membership keeps projects the viewer is a member of, directly or
	// through the namespace.
	Membership bool
	// Owned keeps projects in the viewer's personal namespace or in groups
	// the viewer owns.
	Owned bool
	// Visibility keeps one visibility level; "" keeps all.
	Visibility string
	// Search matches name, path or description anywhere, case-insensitively.
	Search string
	// NamespaceID keeps the projects of one namespace.
	NamespaceID *int64
	// OrderBy is one of id, name, path, created_at, updated_at,
	// last_activity_at (default created_at); Asc reverses GitLab's default
	// descending order.
	OrderBy string
	Asc     bool
}

// projectOrders are the orderings GitLab's order_by offers.
var projectOrders = map[string]string{
	"id":               "p.id",
	"name":             "p.name",
	"path":             "p.path",
	"created_at":       "p.created_at",
	"updated_at":       "p.last_activity_at",
	"last_activity_at": "p.last_activity_at",
}

// ValidProjectOrder reports whether GitLab's order_by accepts by.
func ValidProjectOrder(by string) bool {
	_, ok := projectOrders[by]
	return ok
}

// projectViewer joins a project to the viewer ($1) memberships that give
// access to it.
const projectViewer = `
	LEFT JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = $1
		AND (pm.expires_at IS NULL OR pm.expires_at >= current_date)
	LEFT JOIN namespace_members nm ON nm.namespace_id = p.namespace_id AND nm.user_id = $1`

// projectFilterWhere applies ProjectFilter: $1 viewer, $2 admin,
// $3 membership, $4 owned, $5 visibility, $6 search, $7 namespace.
const projectFilterWhere = `
	WHERE ($2 OR p.visibility = 'public' OR (p.visibility = 'internal' AND $1::bigint IS NOT NULL)
			OR pm.user_id IS NOT NULL OR nm.user_id IS NOT NULL OR (n.kind = 'user' AND n.owner_id = $1))
		AND (NOT $3 OR pm.user_id IS NOT NULL OR nm.user_id IS NOT NULL OR (n.kind = 'user' AND n.owner_id = $1))
		AND (NOT $4 OR (n.kind = 'user' AND n.owner_id = $1) OR nm.access_level >= 50)
		AND ($5 = '' OR p.visibility = $5)
		AND ($6 = '' OR p.name ILIKE $6 ESCAPE '\' OR p.path ILIKE $6 ESCAPE '\' OR p.description ILIKE $6 ESCAPE '\')
		AND ($7::bigint IS NULL OR p.namespace_id = $7)`

// ListProjects returns a page of the projects f selects and how many it
// selects in all.
func (q *Queries) ListProjects(ctx context.Context, f ProjectFilter, page Page) ([]Project, int, error) {
	args := []any{f.UserID, f.Admin, f.Membership, f.Owned, f.Visibility, ilikeContains(f.Search), f.NamespaceID}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM projects p JOIN namespaces n ON n.id = p.namespace_id`+
		projectViewer+projectFilterWhere, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	order, ok := projectOrders[f.OrderBy]
	if !ok {
		order = projectOrders["created_at"]
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	sql := fmt.Sprintf("%s%s%s ORDER BY %s %s, p.id %s LIMIT $8 OFFSET $9",
		projectSelect, projectViewer, projectFilterWhere, order, dir, dir)
	ps, err := collectAll[Project](q.db.Query(ctx, sql, append(args, page.Limit(), page.Offset())...))
	return ps, total, err
}

// ProjectPermissions returns userID's direct membership level of projectID
// and its level in the project's group (nil when there is none), as GitLab's
// permissions field shows them. The owner of a personal namespace counts as
// an Owner member of its projects.
func (q *Queries) ProjectPermissions(ctx context.Context, userID, projectID int64) (projectLevel, groupLevel *int, err error) {
	err = q.db.QueryRow(ctx, `SELECT
			COALESCE((SELECT access_level FROM project_members WHERE project_id = p.id AND user_id = $1
				AND (expires_at IS NULL OR expires_at >= current_date)),
				CASE WHEN n.kind = 'user' AND n.owner_id = $1 THEN 50 END),
			(SELECT access_level FROM namespace_members WHERE namespace_id = p.namespace_id AND user_id = $1)
		FROM projects p JOIN namespaces n ON n.id = p.namespace_id WHERE p.id = $2`, userID, projectID).
		Scan(&projectLevel, &groupLevel)
	return projectLevel, groupLevel, mapErr(err)
}

// EmptyRepositories reports, for each of the projects, whether its
// repository has no branch yet (GitLab's empty_repo).
func (q *Queries) EmptyRepositories(ctx context.Context, projectIDs []int64) (map[int64]bool, error) {
	rows, err := q.db.Query(ctx, `SELECT id, NOT EXISTS (SELECT 1 FROM refs r WHERE r.project_id = p.id AND r.kind = 'branch')
		FROM projects p WHERE id = ANY($1)`, projectIDs)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := make(map[int64]bool, len(projectIDs))
	for rows.Next() {
		var id int64
		var empty bool
		if err := rows.Scan(&id, &empty); err != nil {
			return nil, mapErr(err)
		}
		out[id] = empty
	}
	return out, mapErr(rows.Err())
}
