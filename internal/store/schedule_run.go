package store

import (
	"context"
)

// ScheduleRun is what creating a pipeline from a schedule needs of it.
type ScheduleRun struct {
	ID        int64  `db:"id"`
	ProjectID int64  `db:"project_id"`
	OwnerID   *int64 `db:"owner_id"`
	Ref       string `db:"ref"`
	Active    bool   `db:"active"`
}

// ScheduleForRun returns a schedule of a project and its variables, in key
// order.
func (q *Queries) ScheduleForRun(ctx context.Context, projectID, id int64) (ScheduleRun, []Variable, error) {
	s, err := collectOne[ScheduleRun](q.db.Query(ctx, `SELECT id, project_id, owner_id, ref, active
		FROM pipeline_schedules WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return s, nil, err
	}
	vars, err := collectAll[Variable](q.db.Query(ctx, `SELECT key, value, variable_type FROM pipeline_schedule_variables
		WHERE schedule_id = $1 ORDER BY key`, id))
	return s, vars, err
}

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
