package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bulk reads: one round trip answers a question for a whole batch of trigger
// events. Each returns what exists; a key without a row is simply absent.

// ProjectsByIDs returns the projects among ids.
func (q *Queries) ProjectsByIDs(ctx context.Context, ids []int64) ([]Project, error) {
	return collectAll[Project](q.db.Query(ctx, projectSelect+` WHERE p.id = ANY($1)`, ids))
}

// DigestTrigger is a trigger token with the digest it was found by.
type DigestTrigger struct {
	Trigger
	Digest []byte `db:"digest"`
}

// TriggersByDigests returns the trigger tokens among digests.
func (q *Queries) TriggersByDigests(ctx context.Context, digests [][]byte) ([]DigestTrigger, error) {
	return collectAll[DigestTrigger](q.db.Query(ctx, `SELECT `+triggerColumns+`, t.digest FROM triggers t WHERE t.digest = ANY($1)`, digests))
}

// UsersByIDs returns the users among ids.
func (q *Queries) UsersByIDs(ctx context.Context, ids []int64) ([]User, error) {
	return collectAll[User](q.db.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ANY($1)`, ids))
}

// SchedulesByIDs returns the schedules among ids, whatever their project.
func (q *Queries) SchedulesByIDs(ctx context.Context, ids []int64) ([]Schedule, error) {
	return collectAll[Schedule](q.db.Query(ctx, `WITH s AS (SELECT * FROM pipeline_schedules WHERE id = ANY($1)) `+scheduleSelect, ids))
}

// SchedulesVariables returns the variables of the schedules ids, by schedule
// and then by key, as ScheduleVariables does for one.
func (q *Queries) SchedulesVariables(ctx context.Context, ids []int64) (map[int64][]Variable, error) {
	type row struct {
		ScheduleID int64 `db:"schedule_id"`
		Variable
	}
	rows, err := collectAll[row](q.db.Query(ctx, `SELECT schedule_id, key, value, variable_type FROM pipeline_schedule_variables
		WHERE schedule_id = ANY($1) ORDER BY schedule_id, key`, ids))
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]Variable)
	for _, r := range rows {
		out[r.ScheduleID] = append(out[r.ScheduleID], r.Variable)
	}
	return out, nil
}

// ProjectRef names a ref (or a commit) of a project.
type ProjectRef struct {
	ProjectID int64
	Name      string
}

func splitProjectRefs(keys []ProjectRef) ([]int64, []string) {
	ids := make([]int64, len(keys))
	names := make([]string, len(keys))
	for i, k := range keys {
		ids[i], names[i] = k.ProjectID, k.Name
	}
	return ids, names
}

// RefsNamedIn returns the branches and tags called by keys' names in their
// projects, as RefsNamed does for one: a name may match a branch and a tag.
func (q *Queries) RefsNamedIn(ctx context.Context, keys []ProjectRef) ([]Ref, error) {
	ids, names := splitProjectRefs(keys)
	return collectAll[Ref](q.db.Query(ctx, `SELECT `+refColumns+` FROM refs r
		JOIN unnest($1::bigint[], $2::text[]) AS k(project_id, name) ON r.project_id = k.project_id AND r.name = k.name
		ORDER BY r.project_id, r.name, r.kind`, ids, names))
}

// CommitsIn returns the commits named by keys (full ids) in their projects.
func (q *Queries) CommitsIn(ctx context.Context, keys []ProjectRef) ([]Commit, error) {
	ids, shas := splitProjectRefs(keys)
	return collectAll[Commit](q.db.Query(ctx, `SELECT `+commitColumns+` FROM commits c
		JOIN unnest($1::bigint[], $2::text[]) AS k(project_id, sha) ON c.project_id = k.project_id AND c.sha = k.sha`, ids, shas))
}

// UserProject pairs a user with a project, for access levels.
type UserProject struct {
	UserID    int64
	ProjectID int64
}

// AccessLevels returns the access level of each pair, as AccessLevel does
// for one; a pair whose project does not exist is absent.
func (q *Queries) AccessLevels(ctx context.Context, pairs []UserProject) (map[UserProject]int, error) {
	users := make([]int64, len(pairs))
	projects := make([]int64, len(pairs))
	for i, p := range pairs {
		users[i], projects[i] = p.UserID, p.ProjectID
	}
	rows, err := q.db.Query(ctx, `SELECT k.user_id, p.id, GREATEST(
			COALESCE((SELECT access_level FROM project_members WHERE project_id = p.id AND user_id = k.user_id
				AND (expires_at IS NULL OR expires_at >= current_date)), 0),
			COALESCE((SELECT access_level FROM namespace_members WHERE namespace_id = p.namespace_id AND user_id = k.user_id), 0),
			CASE WHEN n.kind = 'user' AND n.owner_id = k.user_id THEN 50 ELSE 0 END)
		FROM unnest($1::bigint[], $2::bigint[]) AS k(user_id, project_id)
		JOIN projects p ON p.id = k.project_id JOIN namespaces n ON n.id = p.namespace_id`, users, projects)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := make(map[UserProject]int, len(pairs))
	for rows.Next() {
		var k UserProject
		var level int
		if err := rows.Scan(&k.UserID, &k.ProjectID, &level); err != nil {
			return nil, mapErr(err)
		}
		out[k] = level
	}
	return out, mapErr(rows.Err())
}

// EventResults returns what became of each of eventIDs that was decided: the
// pipeline it created or the rejection recorded for it, by event id.
//
// Both reads are planned at each run (QueryExecModeExec), not prepared: a
// prepared statement's generic plan, made while the table was new and
// small, would scan it whole for as long as the table has no statistics,
// and every batch runs these; an index serves them at any size.
func (q *Queries) EventResults(ctx context.Context, eventIDs []string) (map[string]Pipeline, map[string]Rejection, error) {
	pls, err := collectAll[Pipeline](q.db.Query(ctx, pipelineSelect+` WHERE pl.event_id = ANY($1)`, pgx.QueryExecModeExec, eventIDs))
	if err != nil {
		return nil, nil, err
	}
	byEvent := make(map[string]Pipeline, len(pls))
	for _, pl := range pls {
		byEvent[*pl.EventID] = pl
	}
	rows, err := q.db.Query(ctx, `SELECT event_id, project_id, status, body FROM trigger_rejections WHERE event_id = ANY($1)`,
		pgx.QueryExecModeExec, eventIDs)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	rejs := make(map[string]Rejection)
	for rows.Next() {
		var r Rejection
		var body string
		if err := rows.Scan(&r.EventID, &r.ProjectID, &r.Status, &body); err != nil {
			return nil, nil, mapErr(err)
		}
		r.Body = json.RawMessage(body)
		rejs[r.EventID] = r
	}
	return byEvent, rejs, mapErr(rows.Err())
}

// InsertRejections records rejected events; an event already recorded keeps
// its first record.
func (q *Queries) InsertRejections(ctx context.Context, rs []Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]string, len(rs))
	projects := make([]int64, len(rs))
	statuses := make([]int32, len(rs))
	bodies := make([]string, len(rs))
	for i, r := range rs {
		ids[i], projects[i], statuses[i], bodies[i] = r.EventID, r.ProjectID, int32(r.Status), string(r.Body)
	}
	_, err := q.db.Exec(ctx, `INSERT INTO trigger_rejections (event_id, project_id, status, body)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[]) ON CONFLICT (event_id) DO NOTHING`,
		ids, projects, statuses, bodies)
	return mapErr(err)
}

// SetScheduleErrors records, for each schedule, why its last run created
// nothing ("" clears it).
func (q *Queries) SetScheduleErrors(ctx context.Context, reasons map[int64]string) error {
	if len(reasons) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(reasons))
	texts := make([]*string, 0, len(reasons))
	for id, r := range reasons {
		ids = append(ids, id)
		if r == "" {
			texts = append(texts, nil)
		} else {
			texts = append(texts, &r)
		}
	}
	_, err := q.db.Exec(ctx, `UPDATE pipeline_schedules s SET last_error = k.reason
		FROM unnest($1::bigint[], $2::text[]) AS k(id, reason) WHERE s.id = k.id AND s.last_error IS DISTINCT FROM k.reason`, ids, texts)
	return mapErr(err)
}

// RecentPipelines counts the pipelines created since since by each of
// projects and by each of triggers (trigger tokens), for rate limits.
func (q *Queries) RecentPipelines(ctx context.Context, projects, triggers []int64, since time.Time) (byProject, byTrigger map[int64]int, err error) {
	count := func(sql string, ids []int64) (map[int64]int, error) {
		out := map[int64]int{}
		if len(ids) == 0 {
			return out, nil
		}
		rows, err := q.db.Query(ctx, sql, ids, since)
		if err != nil {
			return nil, mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return nil, mapErr(err)
			}
			out[id] = n
		}
		return out, mapErr(rows.Err())
	}
	if byProject, err = count(`SELECT project_id, count(*) FROM pipelines WHERE project_id = ANY($1) AND created_at > $2 GROUP BY 1`, projects); err != nil {
		return nil, nil, err
	}
	if byTrigger, err = count(`SELECT trigger_id, count(*) FROM pipelines WHERE trigger_id = ANY($1) AND created_at > $2 GROUP BY 1`, triggers); err != nil {
		return nil, nil, err
	}
	return byProject, byTrigger, nil
}
