package store

import (
	"context"
)

const namespaceColumns = `n.id, n.kind, n.name, n.path, n.owner_id, n.description, n.visibility, n.created_at`

// NamespaceByID returns a personal namespace or a group.
func (q *Queries) NamespaceByID(ctx context.Context, id int64) (Namespace, error) {
	return collectOne[Namespace](q.db.Query(ctx, `SELECT `+namespaceColumns+` FROM namespaces n WHERE n.id = $1`, id))
}

// NamespaceByPath returns a personal namespace or a group by its path,
// case-insensitively.
func (q *Queries) NamespaceByPath(ctx context.Context, path string) (Namespace, error) {
	return collectOne[Namespace](q.db.Query(ctx, `SELECT `+namespaceColumns+` FROM namespaces n WHERE lower(n.path) = lower($1)`, path))
}

// PersonalNamespace returns a user's personal namespace.
func (q *Queries) PersonalNamespace(ctx context.Context, userID int64) (Namespace, error) {
	return collectOne[Namespace](q.db.Query(ctx, `SELECT `+namespaceColumns+` FROM namespaces n
		WHERE n.kind = 'user' AND n.owner_id = $1`, userID))
}

// NewGroup is what creating a group needs.
type NewGroup struct {
	Name        string
	Path        string
	Description string
	Visibility  string
	// CreatorID becomes the group's first Owner.
	CreatorID int64
}

// CreateGroup inserts a group and makes its creator an Owner member, in one
// statement. ErrDuplicate if the path is taken by any namespace.
func (q *Queries) CreateGroup(ctx context.Context, ng NewGroup) (Namespace, error) {
	return collectOne[Namespace](q.db.Query(ctx, `WITH n AS (
			INSERT INTO namespaces (kind, name, path, description, visibility)
			VALUES ('group', $1, $2, $3, $4) RETURNING *),
		m AS (INSERT INTO namespace_members (namespace_id, user_id, access_level) SELECT id, $5, 50 FROM n)
		SELECT `+namespaceColumns+` FROM n`, ng.Name, ng.Path, ng.Description, ng.Visibility, ng.CreatorID))
}

// NamespaceAccess is the access userID has to a namespace: its membership
// level in a group, Owner of its own personal namespace, else NoAccess.
// Administrators are not special here.
func (q *Queries) NamespaceAccess(ctx context.Context, userID, namespaceID int64) (int, error) {
	var level int
	err := q.db.QueryRow(ctx, `SELECT GREATEST(
			COALESCE((SELECT access_level FROM namespace_members WHERE namespace_id = n.id AND user_id = $1), 0),
			CASE WHEN n.kind = 'user' AND n.owner_id = $1 THEN 50 ELSE 0 END)
		FROM namespaces n WHERE n.id = $2`, userID, namespaceID).Scan(&level)
	return level, mapErr(err)
}

// GroupFilter selects groups as GitLab's GET /groups does.
type GroupFilter struct {
	// UserID is the viewer; nil is anonymous, who sees public groups.
	UserID *int64
	// Admin sees every group.
	Admin bool
	// AllAvailable shows every group the viewer may see, not only those it
	// is a member of.
	AllAvailable bool
	// Owned keeps groups the viewer owns.
	Owned bool
	// MinAccessLevel keeps groups where the viewer has at least this level.
	MinAccessLevel int
	// Search matches name or path anywhere, case-insensitively.
	Search string
}

// groupFilterWhere applies GroupFilter: $1 viewer, $2 admin, $3 all
// available, $4 owned, $5 minimum level, $6 search.
const groupFilterWhere = `
	LEFT JOIN namespace_members nm ON nm.namespace_id = n.id AND nm.user_id = $1
	WHERE n.kind = 'group'
		AND (nm.user_id IS NOT NULL
			OR (($2 OR $3) AND ($2 OR n.visibility = 'public' OR (n.visibility = 'internal' AND $1::bigint IS NOT NULL))))
		AND (NOT $4 OR nm.access_level >= 50)
		AND ($5 = 0 OR nm.access_level >= $5)
		AND ($6 = '' OR n.name ILIKE $6 ESCAPE '\' OR n.path ILIKE $6 ESCAPE '\')`

// ListGroups returns a page of the groups f selects, by name, and how many
// it selects in all.
func (q *Queries) ListGroups(ctx context.Context, f GroupFilter, page Page) ([]Namespace, int, error) {
	args := []any{f.UserID, f.Admin, f.AllAvailable, f.Owned, f.MinAccessLevel, ilikeContains(f.Search)}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM namespaces n`+groupFilterWhere, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	gs, err := collectAll[Namespace](q.db.Query(ctx, `SELECT `+namespaceColumns+` FROM namespaces n`+groupFilterWhere+`
		ORDER BY n.name, n.id LIMIT $7 OFFSET $8`, append(args, page.Limit(), page.Offset())...))
	return gs, total, err
}

// ListNamespaces returns a page of the namespaces userID may use (its own
// and the groups it is a member of; every namespace for an administrator)
// whose path or name contains search, and how many there are in all.
func (q *Queries) ListNamespaces(ctx context.Context, userID int64, admin bool, search string, page Page) ([]Namespace, int, error) {
	const where = ` WHERE ($2 OR (n.kind = 'user' AND n.owner_id = $1)
			OR EXISTS (SELECT 1 FROM namespace_members m WHERE m.namespace_id = n.id AND m.user_id = $1))
		AND ($3 = '' OR n.name ILIKE $3 ESCAPE '\' OR n.path ILIKE $3 ESCAPE '\')`
	like := ilikeContains(search)
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM namespaces n`+where, userID, admin, like).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ns, err := collectAll[Namespace](q.db.Query(ctx, `SELECT `+namespaceColumns+` FROM namespaces n`+where+`
		ORDER BY n.id LIMIT $4 OFFSET $5`, userID, admin, like, page.Limit(), page.Offset()))
	return ns, total, err
}
