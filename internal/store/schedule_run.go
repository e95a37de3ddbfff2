package store

import (
	"context"
)

// SetScheduleError records why a schedule's run created nothing; an empty
// reason clears it after a run that worked.
func (q *Queries) SetScheduleError(ctx context.Context, id int64, reason string) error {
	var r *string
	if reason != "" {
		r = &reason
	}
	_, err := q.db.Exec(ctx, `UPDATE pipeline_schedules SET last_error = $2 WHERE id = $1 AND last_error IS DISTINCT FROM $2`, id, r)
	return mapErr(err)
}
