package store

import (
	"context"
	"time"
)

// Schedule is a pipeline schedule together with what its GitLab entity
// shows of its owner, so that one query renders a list.
type Schedule struct {
	ID            int64     `db:"id"`
	ProjectID     int64     `db:"project_id"`
	OwnerID       *int64    `db:"owner_id"`
	OwnerUsername *string   `db:"owner_username"`
	OwnerName     *string   `db:"owner_name"`
	OwnerState    *string   `db:"owner_state"`
	Description   string    `db:"description"`
	Ref           string    `db:"ref"`
	Cron          string    `db:"cron"`
	CronTimezone  string    `db:"cron_timezone"`
	Active        bool      `db:"active"`
	NextRunAt     time.Time `db:"next_run_at"`
	LastError     *string   `db:"last_error"`
	CreatedAt     time.Time `db:"created_at"`
	UpdatedAt     time.Time `db:"updated_at"`
}

// scheduleSelect reads schedules from s, a table or a CTE of
// pipeline_schedules rows.
const scheduleSelect = `SELECT s.id, s.project_id, s.owner_id, u.username AS owner_username, u.name AS owner_name,
	u.state AS owner_state, s.description, s.ref, s.cron, s.cron_timezone, s.active, s.next_run_at, s.last_error,
	s.created_at, s.updated_at
	FROM s LEFT JOIN users u ON u.id = s.owner_id`

// ScheduleByID returns a project's schedule.
func (q *Queries) ScheduleByID(ctx context.Context, projectID, id int64) (Schedule, error) {
	return collectOne[Schedule](q.db.Query(ctx, `WITH s AS (SELECT * FROM pipeline_schedules WHERE project_id = $1 AND id = $2) `+
		scheduleSelect, projectID, id))
}

// ListSchedules returns a page of a project's schedules by id, all of them
// or only the active (active = true) or inactive ones, and how many match.
func (q *Queries) ListSchedules(ctx context.Context, projectID int64, active *bool, page Page) ([]Schedule, int, error) {
	const where = ` WHERE project_id = $1 AND ($2::boolean IS NULL OR active = $2)`
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM pipeline_schedules`+where, projectID, active).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	ss, err := collectAll[Schedule](q.db.Query(ctx, `WITH s AS (SELECT * FROM pipeline_schedules`+where+`
		ORDER BY id LIMIT $3 OFFSET $4) `+scheduleSelect+` ORDER BY s.id`, projectID, active, page.Limit(), page.Offset()))
	return ss, total, err
}

// ScheduleFields are a schedule's editable fields, with the next run the
// caller computed from them.
type ScheduleFields struct {
	Description  string
	Ref          string
	Cron         string
	CronTimezone string
	Active       bool
	NextRunAt    time.Time
}

// CreateSchedule stores a new schedule owned by ownerID.
func (q *Queries) CreateSchedule(ctx context.Context, projectID, ownerID int64, f ScheduleFields) (Schedule, error) {
	return collectOne[Schedule](q.db.Query(ctx, `WITH s AS (INSERT INTO pipeline_schedules
		(project_id, owner_id, description, ref, cron, cron_timezone, active, next_run_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *) `+scheduleSelect,
		projectID, ownerID, f.Description, f.Ref, f.Cron, f.CronTimezone, f.Active, f.NextRunAt))
}

// UpdateSchedule replaces a schedule's editable fields. A schedule that is
// edited starts over, so the reason its last run created nothing is
// cleared.
func (q *Queries) UpdateSchedule(ctx context.Context, projectID, id int64, f ScheduleFields) (Schedule, error) {
	return collectOne[Schedule](q.db.Query(ctx, `WITH s AS (UPDATE pipeline_schedules SET description = $3, ref = $4,
		cron = $5, cron_timezone = $6, active = $7, next_run_at = $8, last_error = NULL, updated_at = now()
		WHERE project_id = $1 AND id = $2 RETURNING *) `+scheduleSelect,
		projectID, id, f.Description, f.Ref, f.Cron, f.CronTimezone, f.Active, f.NextRunAt))
}

// SetScheduleOwner makes ownerID the schedule's owner, recording the next
// run the caller computed (GitLab recomputes it on every save).
func (q *Queries) SetScheduleOwner(ctx context.Context, projectID, id, ownerID int64, nextRunAt time.Time) (Schedule, error) {
	return collectOne[Schedule](q.db.Query(ctx, `WITH s AS (UPDATE pipeline_schedules SET owner_id = $3, next_run_at = $4,
		updated_at = now() WHERE project_id = $1 AND id = $2 RETURNING *) `+scheduleSelect, projectID, id, ownerID, nextRunAt))
}

// DeleteSchedule removes a schedule and its variables. Its pipelines stay,
// no longer linked to it, as GitLab nullifies them.
func (q *Queries) DeleteSchedule(ctx context.Context, projectID, id int64) error {
	// One statement, so that it is atomic without a transaction.
	var n int
	if err := q.db.QueryRow(ctx, `WITH d AS (DELETE FROM pipeline_schedules WHERE project_id = $1 AND id = $2 RETURNING id),
		p AS (UPDATE pipelines SET schedule_id = NULL WHERE schedule_id IN (SELECT id FROM d))
		SELECT count(*) FROM d`, projectID, id).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ScheduleVariables returns a schedule's variables in key order.
func (q *Queries) ScheduleVariables(ctx context.Context, scheduleID int64) ([]Variable, error) {
	return collectAll[Variable](q.db.Query(ctx, `SELECT key, value, variable_type FROM pipeline_schedule_variables
		WHERE schedule_id = $1 ORDER BY key`, scheduleID))
}

// ScheduleVariable returns one variable of a schedule.
func (q *Queries) ScheduleVariable(ctx context.Context, scheduleID int64, key string) (Variable, error) {
	return collectOne[Variable](q.db.Query(ctx, `SELECT key, value, variable_type FROM pipeline_schedule_variables
		WHERE schedule_id = $1 AND key = $2`, scheduleID, key))
}

// CreateScheduleVariable adds a variable to a schedule; a key the schedule
// already has is ErrDuplicate.
func (q *Queries) CreateScheduleVariable(ctx context.Context, scheduleID int64, v Variable) (Variable, error) {
	return collectOne[Variable](q.db.Query(ctx, `INSERT INTO pipeline_schedule_variables (schedule_id, key, value, variable_type)
		VALUES ($1, $2, $3, $4) RETURNING key, value, variable_type`, scheduleID, v.Key, v.Value, v.VariableType))
}

// UpdateScheduleVariable changes a variable's value and/or type; nil leaves
// a field as it is.
func (q *Queries) UpdateScheduleVariable(ctx context.Context, scheduleID int64, key string, value, variableType *string) (Variable, error) {
	return collectOne[Variable](q.db.Query(ctx, `UPDATE pipeline_schedule_variables
		SET value = coalesce($3, value), variable_type = coalesce($4, variable_type)
		WHERE schedule_id = $1 AND key = $2 RETURNING key, value, variable_type`, scheduleID, key, value, variableType))
}

// DeleteScheduleVariable removes a variable and returns it.
func (q *Queries) DeleteScheduleVariable(ctx context.Context, scheduleID int64, key string) (Variable, error) {
	return collectOne[Variable](q.db.Query(ctx, `DELETE FROM pipeline_schedule_variables WHERE schedule_id = $1 AND key = $2
		RETURNING key, value, variable_type`, scheduleID, key))
}

// LastSchedulePipeline returns the newest pipeline a schedule created.
func (q *Queries) LastSchedulePipeline(ctx context.Context, scheduleID int64) (Pipeline, error) {
	return collectOne[Pipeline](q.db.Query(ctx, pipelineSelect+` WHERE pl.schedule_id = $1 ORDER BY pl.id DESC LIMIT 1`, scheduleID))
}

// SchedulePipelineFilter selects the pipelines of a schedule.
type SchedulePipelineFilter struct {
	ProjectID  int64
	ScheduleID int64
	Status     string // empty for any
	Desc       bool   // newest first; GitLab's default is oldest first
}

// ListSchedulePipelines returns a page of the pipelines a schedule created
// and how many there are.
func (q *Queries) ListSchedulePipelines(ctx context.Context, f SchedulePipelineFilter, page Page) ([]Pipeline, int, error) {
	const where = ` WHERE pl.project_id = $1 AND pl.schedule_id = $2 AND ($3 = '' OR pl.status = $3)`
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM pipelines pl`+where, f.ProjectID, f.ScheduleID, f.Status).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	order := ` ORDER BY pl.id ASC`
	if f.Desc {
		order = ` ORDER BY pl.id DESC`
	}
	pls, err := collectAll[Pipeline](q.db.Query(ctx, pipelineSelect+where+order+` LIMIT $4 OFFSET $5`,
		f.ProjectID, f.ScheduleID, f.Status, page.Limit(), page.Offset()))
	return pls, total, err
}
