package store

import (
	"context"
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

// Namespace is a user's personal namespace or a group.
type Namespace struct {
	ID        int64     `db:"id"`
	Kind      string    `db:"kind"`
	Name      string    `db:"name"`
	Path      string    `db:"path"`
	OwnerID   *int64    `db:"owner_id"`
	CreatedAt time.Time `db:"created_at"`
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
