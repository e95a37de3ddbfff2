package store

import (
	"context"
	"time"
)

// Trigger is a pipeline trigger token, without its text: TokenEnc holds the
// token sealed by secret.Sealer.
type Trigger struct {
	ID          int64      `db:"id"`
	ProjectID   int64      `db:"project_id"`
	OwnerID     *int64     `db:"owner_id"`
	Description string     `db:"description"`
	TokenEnc    []byte     `db:"token_enc"`
	ShortToken  string     `db:"short_token"`
	ExpiresAt   *time.Time `db:"expires_at"`
	LastUsed    *time.Time `db:"last_used"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
}

// Expired reports whether the token can no longer trigger pipelines at now.
func (t Trigger) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

const triggerColumns = `t.id, t.project_id, t.owner_id, t.description, t.token_enc, t.short_token,
	t.expires_at, t.last_used, t.created_at, t.updated_at`

// TriggerByDigest finds a trigger token by the digest of its text.
func (q *Queries) TriggerByDigest(ctx context.Context, digest []byte) (Trigger, error) {
	return collectOne[Trigger](q.db.Query(ctx, `SELECT `+triggerColumns+` FROM triggers t WHERE t.digest = $1`, digest))
}

// TriggerByID returns a project's trigger token.
func (q *Queries) TriggerByID(ctx context.Context, projectID, id int64) (Trigger, error) {
	return collectOne[Trigger](q.db.Query(ctx, `SELECT `+triggerColumns+` FROM triggers t WHERE t.project_id = $1 AND t.id = $2`, projectID, id))
}

// ListTriggers returns a page of a project's unexpired trigger tokens and
// how many there are in all.
func (q *Queries) ListTriggers(ctx context.Context, projectID int64, page Page) ([]Trigger, int, error) {
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM triggers WHERE project_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
		projectID).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ts, err := collectAll[Trigger](q.db.Query(ctx, `SELECT `+triggerColumns+` FROM triggers t
		WHERE t.project_id = $1 AND (t.expires_at IS NULL OR t.expires_at > now())
		ORDER BY t.id LIMIT $2 OFFSET $3`, projectID, page.Limit(), page.Offset()))
	return ts, total, err
}

// NewTrigger is what creating a trigger token needs.
type NewTrigger struct {
	ProjectID   int64
	OwnerID     int64
	Description string
	Digest      []byte
	TokenEnc    []byte
	ShortToken  string
	ExpiresAt   *time.Time
}

// CreateTrigger stores a trigger token.
func (q *Queries) CreateTrigger(ctx context.Context, nt NewTrigger) (Trigger, error) {
	return collectOne[Trigger](q.db.Query(ctx, `INSERT INTO triggers AS t
		(project_id, owner_id, description, digest, token_enc, short_token, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+triggerColumns,
		nt.ProjectID, nt.OwnerID, nt.Description, nt.Digest, nt.TokenEnc, nt.ShortToken, nt.ExpiresAt))
}

// UpdateTriggerDescription changes a trigger token's description.
func (q *Queries) UpdateTriggerDescription(ctx context.Context, projectID, id int64, description string) (Trigger, error) {
	return collectOne[Trigger](q.db.Query(ctx, `UPDATE triggers t SET description = $3, updated_at = now()
		WHERE t.project_id = $1 AND t.id = $2 RETURNING `+triggerColumns, projectID, id, description))
}

// DeleteTrigger removes a trigger token for good and returns its digest so
// caches can forget it.
func (q *Queries) DeleteTrigger(ctx context.Context, projectID, id int64) ([]byte, error) {
	var digest []byte
	err := q.db.QueryRow(ctx, `DELETE FROM triggers WHERE project_id = $1 AND id = $2 RETURNING digest`, projectID, id).Scan(&digest)
	return digest, mapErr(err)
}

// queueTouchTriggers queues recording that the given trigger tokens created
// a pipeline at when. Several pipelines of one token in a batch need one
// update.
func queueTouchTriggers(b *Batch, ids []int64, when time.Time) {
	if len(ids) > 0 {
		b.queueExec(`UPDATE triggers SET last_used = $2 WHERE id = ANY($1) AND (last_used IS NULL OR last_used < $2)`, ids, when)
	}
}
