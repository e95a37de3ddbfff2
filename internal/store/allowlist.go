package store

import (
	"context"
)

// AddToAllowlist lets jobs of sourceProjectID use their CI job token
// against projectID (projectID's inbound allowlist). ErrDuplicate if they
// already may.
func (q *Queries) AddToAllowlist(ctx context.Context, projectID, sourceProjectID int64) error {
	_, err := q.db.Exec(ctx, `INSERT INTO job_token_allowlist (project_id, source_project_id) VALUES ($1, $2)`,
		projectID, sourceProjectID)
	return mapErr(err)
}

// RemoveFromAllowlist takes sourceProjectID off projectID's inbound
// allowlist; ErrNotFound if it was not on it.
func (q *Queries) RemoveFromAllowlist(ctx context.Context, projectID, sourceProjectID int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM job_token_allowlist WHERE project_id = $1 AND source_project_id = $2`,
		projectID, sourceProjectID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// allowlistProjects is project $1 itself followed by the projects on its
// inbound allowlist in the order they were added, as GitLab lists them.
const allowlistProjects = `
	JOIN (SELECT $1::bigint AS id, 0 AS ord, NULL::timestamptz AS added
		UNION ALL
		SELECT source_project_id, 1, created_at FROM job_token_allowlist WHERE project_id = $1) a ON a.id = p.id`

// ListAllowlist returns a page of the projects whose jobs may use their CI
// job token against projectID — the project itself first — and how many
// there are in all.
func (q *Queries) ListAllowlist(ctx context.Context, projectID int64, page Page) ([]Project, int, error) {
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM projects p`+allowlistProjects, projectID).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ps, err := collectAll[Project](q.db.Query(ctx, projectSelect+allowlistProjects+`
		ORDER BY a.ord, a.added, p.id LIMIT $2 OFFSET $3`, projectID, page.Limit(), page.Offset()))
	return ps, total, err
}
