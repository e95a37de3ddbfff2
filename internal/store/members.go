package store

import (
	"context"
	"time"
)

// Member is a user's membership of a project or a group, with what GitLab's
// member entity shows of the user.
type Member struct {
	UserID      int64      `db:"user_id"`
	Username    string     `db:"username"`
	Name        string     `db:"name"`
	State       string     `db:"state"`
	AccessLevel int        `db:"access_level"`
	ExpiresAt   *time.Time `db:"expires_at"`
	CreatedAt   time.Time  `db:"created_at"`
}

// activeProjectMember keeps memberships that have not expired.
const activeProjectMember = `(m.expires_at IS NULL OR m.expires_at >= current_date)`

const projectMemberSelect = `SELECT m.user_id, u.username, u.name, u.state, m.access_level, m.expires_at, m.created_at
	FROM project_members m JOIN users u ON u.id = m.user_id`

// allProjectMembers is every membership that gives access to project $1,
// direct or through its group, one row per user with the highest level, as
// GitLab's members/all lists them.
const allProjectMembers = `WITH candidates AS (
		SELECT m.user_id, m.access_level, m.expires_at, m.created_at FROM project_members m
		WHERE m.project_id = $1 AND ` + activeProjectMember + `
		UNION ALL
		SELECT nm.user_id, nm.access_level, NULL::date, nm.created_at
		FROM namespace_members nm JOIN projects p ON p.namespace_id = nm.namespace_id WHERE p.id = $1),
	m AS (SELECT DISTINCT ON (user_id) * FROM candidates ORDER BY user_id, access_level DESC)
	SELECT m.user_id, u.username, u.name, u.state, m.access_level, m.expires_at, m.created_at
	FROM m JOIN users u ON u.id = m.user_id`

// memberQuery matches username or name ($2) anywhere, case-insensitively.
const memberQuery = `($2 = '' OR u.username ILIKE $2 ESCAPE '\' OR u.name ILIKE $2 ESCAPE '\')`

// ListProjectMembers returns a page of a project's direct members whose
// username or name contains query, by user id, and how many there are.
func (q *Queries) ListProjectMembers(ctx context.Context, projectID int64, query string, page Page) ([]Member, int, error) {
	return q.listMembers(ctx, projectMemberSelect+` WHERE m.project_id = $1 AND `+activeProjectMember+` AND `+memberQuery,
		projectID, query, page)
}

// ListAllProjectMembers is ListProjectMembers including the members of the
// project's group, each user once with its highest level.
func (q *Queries) ListAllProjectMembers(ctx context.Context, projectID int64, query string, page Page) ([]Member, int, error) {
	return q.listMembers(ctx, allProjectMembers+` WHERE `+memberQuery, projectID, query, page)
}

func (q *Queries) listMembers(ctx context.Context, sql string, sourceID int64, query string, page Page) ([]Member, int, error) {
	like := ilikeContains(query)
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM (`+sql+`) c`, sourceID, like).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ms, err := collectAll[Member](q.db.Query(ctx, sql+` ORDER BY m.user_id LIMIT $3 OFFSET $4`,
		sourceID, like, page.Limit(), page.Offset()))
	return ms, total, err
}

// ProjectMember returns a user's direct membership of a project.
func (q *Queries) ProjectMember(ctx context.Context, projectID, userID int64) (Member, error) {
	return collectOne[Member](q.db.Query(ctx, projectMemberSelect+` WHERE m.project_id = $1 AND m.user_id = $2 AND `+activeProjectMember,
		projectID, userID))
}

// AllProjectMember returns a user's highest membership giving access to a
// project, direct or through its group.
func (q *Queries) AllProjectMember(ctx context.Context, projectID, userID int64) (Member, error) {
	return collectOne[Member](q.db.Query(ctx, allProjectMembers+` WHERE m.user_id = $2`, projectID, userID))
}

// AddProjectMember makes a user a direct member of a project. An expired
// membership is replaced; a current one is ErrDuplicate.
func (q *Queries) AddProjectMember(ctx context.Context, projectID, userID int64, level int, expiresAt *time.Time) (Member, error) {
	tag, err := q.db.Exec(ctx, `INSERT INTO project_members AS m (project_id, user_id, access_level, expires_at)
		VALUES ($1, $2, $3, $4::date)
		ON CONFLICT (project_id, user_id) DO UPDATE
			SET access_level = EXCLUDED.access_level, expires_at = EXCLUDED.expires_at, created_at = now()
			WHERE NOT `+activeProjectMember, projectID, userID, level, calendarDate(expiresAt))
	if err != nil {
		return Member{}, mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return Member{}, ErrDuplicate
	}
	return q.ProjectMember(ctx, projectID, userID)
}

// UpdateProjectMember changes a direct member's level and, when setExpiry
// is true, its expiry date.
func (q *Queries) UpdateProjectMember(ctx context.Context, projectID, userID int64, level int, setExpiry bool, expiresAt *time.Time) (Member, error) {
	tag, err := q.db.Exec(ctx, `UPDATE project_members m SET access_level = $3,
			expires_at = CASE WHEN $4 THEN $5::date ELSE m.expires_at END
		WHERE m.project_id = $1 AND m.user_id = $2 AND `+activeProjectMember,
		projectID, userID, level, setExpiry, calendarDate(expiresAt))
	if err != nil {
		return Member{}, mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return Member{}, ErrNotFound
	}
	return q.ProjectMember(ctx, projectID, userID)
}

// DeleteProjectMember removes a direct membership.
func (q *Queries) DeleteProjectMember(ctx context.Context, projectID, userID int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM project_members WHERE project_id = $1 AND user_id = $2`, projectID, userID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

const groupMemberSelect = `SELECT m.user_id, u.username, u.name, u.state, m.access_level, NULL::date AS expires_at, m.created_at
	FROM namespace_members m JOIN users u ON u.id = m.user_id`

// ListGroupMembers returns a page of a group's members whose username or
// name contains query, by user id, and how many there are.
func (q *Queries) ListGroupMembers(ctx context.Context, groupID int64, query string, page Page) ([]Member, int, error) {
	return q.listMembers(ctx, groupMemberSelect+` WHERE m.namespace_id = $1 AND `+memberQuery, groupID, query, page)
}

// GroupMember returns a user's membership of a group.
func (q *Queries) GroupMember(ctx context.Context, groupID, userID int64) (Member, error) {
	return collectOne[Member](q.db.Query(ctx, groupMemberSelect+` WHERE m.namespace_id = $1 AND m.user_id = $2`, groupID, userID))
}

// AddGroupMember makes a user a member of a group; ErrDuplicate if it is
// one already.
func (q *Queries) AddGroupMember(ctx context.Context, groupID, userID int64, level int) (Member, error) {
	if _, err := q.db.Exec(ctx, `INSERT INTO namespace_members (namespace_id, user_id, access_level) VALUES ($1, $2, $3)`,
		groupID, userID, level); err != nil {
		return Member{}, mapErr(err)
	}
	return q.GroupMember(ctx, groupID, userID)
}
