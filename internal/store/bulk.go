package store

import (
	"context"
	"time"
)

// Bulk reads: one round trip answers a question for a whole batch of trigger
// events. Each returns what exists; a key without a row is simply absent.

// ProjectsByIDs queues a read of the projects among ids.
func (b *Batch) ProjectsByIDs(ids []int64) *[]Project {
	return queueAll[Project](b, projectSelect+` WHERE p.id = ANY($1)`, ids)
}

// DigestTrigger is a trigger token with the digest it was found by.
type DigestTrigger struct {
	Trigger
	Digest []byte `db:"digest"`
}

// TriggersByDigests queues a read of the trigger tokens among digests.
func (b *Batch) TriggersByDigests(digests [][]byte) *[]DigestTrigger {
	return queueAll[DigestTrigger](b, `SELECT `+triggerColumns+`, t.digest FROM triggers t WHERE t.digest = ANY($1)`, digests)
}

// UsersByIDs queues a read of the users among ids.
func (b *Batch) UsersByIDs(ids []int64) *[]User {
	return queueAll[User](b, `SELECT `+userColumns+` FROM users u WHERE u.id = ANY($1)`, ids)
}

// TriggerOwners queues a read of the users who own the trigger tokens
// among digests, so that a batch of triggered events needs no second round
// trip for them.
func (b *Batch) TriggerOwners(digests [][]byte) *[]User {
	return queueAll[User](b, `SELECT `+userColumns+` FROM users u
		WHERE u.id IN (SELECT owner_id FROM triggers WHERE digest = ANY($1))`, digests)
}

// SchedulesByIDs queues a read of the schedules among ids, whatever their
// project.
func (b *Batch) SchedulesByIDs(ids []int64) *[]Schedule {
	return queueAll[Schedule](b, `WITH s AS (SELECT * FROM pipeline_schedules WHERE id = ANY($1)) `+scheduleSelect, ids)
}

// ScheduleVariable is a variable of a schedule, read in bulk.
type ScheduleVariable struct {
	ScheduleID int64 `db:"schedule_id"`
	Variable
}

// SchedulesVariables queues a read of the variables of the schedules ids,
// by schedule and then by key, as ScheduleVariables reads them for one.
func (b *Batch) SchedulesVariables(ids []int64) *[]ScheduleVariable {
	return queueAll[ScheduleVariable](b, `SELECT schedule_id, key, value, variable_type FROM pipeline_schedule_variables
		WHERE schedule_id = ANY($1) ORDER BY schedule_id, key`, ids)
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

// RefsNamedIn queues a read of the branches and tags called by keys' names
// in their projects, as RefsNamed reads them for one: a name may match a
// branch and a tag.
func (b *Batch) RefsNamedIn(keys []ProjectRef) *[]Ref {
	ids, names := splitProjectRefs(keys)
	return queueAll[Ref](b, `SELECT `+refColumns+` FROM refs r
		JOIN unnest($1::bigint[], $2::text[]) AS k(project_id, name) ON r.project_id = k.project_id AND r.name = k.name
		ORDER BY r.project_id, r.name, r.kind`, ids, names)
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

// AccessLevel is the access level of a user on a project, read in bulk.
type AccessLevel struct {
	UserID    int64 `db:"user_id"`
	ProjectID int64 `db:"project_id"`
	Level     int   `db:"level"`
}

// AccessLevels queues a read of the access level of each pair, as
// AccessLevel reads it for one; a pair whose project does not exist is
// absent.
func (b *Batch) AccessLevels(pairs []UserProject) *[]AccessLevel {
	users := make([]int64, len(pairs))
	projects := make([]int64, len(pairs))
	for i, p := range pairs {
		users[i], projects[i] = p.UserID, p.ProjectID
	}
	return queueAll[AccessLevel](b, `SELECT k.user_id, p.id AS project_id, GREATEST(
			COALESCE((SELECT access_level FROM project_members WHERE project_id = p.id AND user_id = k.user_id
				AND (expires_at IS NULL OR expires_at >= current_date)), 0),
			COALESCE((SELECT access_level FROM namespace_members WHERE namespace_id = p.namespace_id AND user_id = k.user_id), 0),
			CASE WHEN n.kind = 'user' AND n.owner_id = k.user_id THEN 50 ELSE 0 END) AS level
		FROM unnest($1::bigint[], $2::bigint[]) AS k(user_id, project_id)
		JOIN projects p ON p.id = k.project_id JOIN namespaces n ON n.id = p.namespace_id`, users, projects)
}

// EventResults is what became of trigger events that were decided: the
// pipeline each created or the rejection recorded for it, by event id.
type EventResults struct {
	pipelines  *[]Pipeline
	rejections *[]Rejection
}

// EventResults queues the reads of what became of eventIDs. Every batch of
// events runs them, and an index on event_id serves them at any size, so in
// a transaction both use one generic plan, made once per connection with
// sequential scans ruled out. Left to itself, Postgres either planned them
// at every run (about 300 µs a batch, for a join whose right plan never
// changes) or cached a generic plan made while the tables were new and
// small, which scanned them whole for as long as they had no statistics.
// What is queued after them is planned as usual again.
func (b *Batch) EventResults(eventIDs []string) EventResults {
	b.queueExec(`SET LOCAL plan_cache_mode = force_generic_plan`)
	b.queueExec(`SET LOCAL enable_seqscan = off`)
	defer b.queueExec(`SET LOCAL enable_seqscan TO DEFAULT`)
	defer b.queueExec(`SET LOCAL plan_cache_mode TO DEFAULT`)
	return EventResults{
		pipelines:  queueAll[Pipeline](b, pipelineSelect+` WHERE pl.event_id = ANY($1)`, eventIDs),
		rejections: queueAll[Rejection](b, `SELECT event_id, project_id, status, body FROM trigger_rejections WHERE event_id = ANY($1)`, eventIDs),
	}
}

// ByEvent returns the results read, by event id, once their batch has
// been sent.
func (r EventResults) ByEvent() (map[string]Pipeline, map[string]Rejection) {
	pls := make(map[string]Pipeline, len(*r.pipelines))
	for _, pl := range *r.pipelines {
		pls[*pl.EventID] = pl
	}
	rejs := make(map[string]Rejection, len(*r.rejections))
	for _, rej := range *r.rejections {
		rejs[rej.EventID] = rej
	}
	return pls, rejs
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
