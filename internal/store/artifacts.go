package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Job artifacts: one "archive" (a zip of the job's artifacts:paths) per job,
// kept in job_artifacts. An archive is available until its expire_at, and
// for as long as its job belongs to the latest successful pipeline of its
// ref, whatever its expiry, as GitLab keeps "the artifacts of the most
// recent successful jobs" by default.

// DefaultArtifactsExpireIn is how long an archive is kept when the job's
// artifacts:expire_in does not say (GitLab's instance default).
const DefaultArtifactsExpireIn = 30 * 24 * time.Hour

// JobArtifacts describes a job's archive.
type JobArtifacts struct {
	JobID     int64      `db:"job_id"`
	FileType  string     `db:"file_type"`
	FileName  string     `db:"file_name"`
	Size      int64      `db:"size"`
	ExpireAt  *time.Time `db:"expire_at"`
	CreatedAt time.Time  `db:"created_at"`
}

// ArtifactsArchive is a job's archive with its content.
type ArtifactsArchive struct {
	JobArtifacts
	Content []byte `db:"content"`
}

// artifactsAvailable is the condition under which the archive a of job j
// (of pipeline pl) may be downloaded.
const artifactsAvailable = `(a.expire_at IS NULL OR a.expire_at > now() OR pl.id = (
		SELECT lp.id FROM pipelines lp WHERE lp.project_id = pl.project_id AND lp.ref = pl.ref AND lp.status = 'success'
		ORDER BY lp.id DESC LIMIT 1))`

const artifactsColumns = `a.job_id, a.file_type, a.file_name, a.size, a.expire_at, a.created_at`

// InsertJobArtifacts stores a job's archive, expiring as the job's
// artifacts:expire_in says. A job that already has one keeps it: the
// insert is idempotent, so a redelivered result changes nothing. It
// reports whether it inserted.
func (q *Queries) InsertJobArtifacts(ctx context.Context, jobID int64, content []byte) (bool, error) {
	var expireIn *string
	if err := q.db.QueryRow(ctx, `SELECT spec -> 'artifacts' ->> 'expire_in' FROM jobs WHERE id = $1`, jobID).
		Scan(&expireIn); err != nil {
		return false, mapErr(err)
	}
	var keep *float64 // seconds; nil is forever
	spec := ""
	if expireIn != nil {
		spec = *expireIn
	}
	d, never, err := ParseExpireIn(spec)
	switch {
	case never:
	case err != nil || d <= 0:
		s := DefaultArtifactsExpireIn.Seconds()
		keep = &s
	default:
		s := d.Seconds()
		keep = &s
	}
	tag, err := q.db.Exec(ctx, `INSERT INTO job_artifacts (job_id, file_type, file_name, size, content, expire_at)
		VALUES ($1, 'archive', 'artifacts.zip', $2, $3, CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $4::float8) END)
		ON CONFLICT (job_id) DO NOTHING`, jobID, int64(len(content)), content, keep)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// LatestSuccessfulArtifactsJob finds, in the latest successful pipeline of
// a project's ref, the latest attempt of the job named name that has an
// archive: what GitLab's "download the artifacts archive of a ref" serves.
// ErrNotFound when there is no such pipeline, or it has no such job.
func (q *Queries) LatestSuccessfulArtifactsJob(ctx context.Context, projectID int64, ref, name string) (int64, error) {
	var id int64
	err := q.db.QueryRow(ctx, `WITH pl AS (
			SELECT id FROM pipelines WHERE project_id = $1 AND ref = $2 AND status = 'success' ORDER BY id DESC LIMIT 1)
		SELECT j.id FROM pl JOIN jobs j ON j.pipeline_id = pl.id JOIN job_artifacts a ON a.job_id = j.id
		WHERE j.name = $3 AND j.kind = 'build' AND NOT j.retried
		ORDER BY j.id DESC LIMIT 1`, projectID, ref, name).Scan(&id)
	return id, mapErr(err)
}

// RecentArtifactsJob is LatestSuccessfulArtifactsJob over every successful
// pipeline of the ref, newest first: the latest job named name whose
// archive is still available (search_recent_successful_pipelines).
func (q *Queries) RecentArtifactsJob(ctx context.Context, projectID int64, ref, name string) (int64, error) {
	var id int64
	err := q.db.QueryRow(ctx, `SELECT j.id FROM pipelines pl JOIN jobs j ON j.pipeline_id = pl.id
			JOIN job_artifacts a ON a.job_id = j.id
		WHERE pl.project_id = $1 AND pl.ref = $2 AND pl.status = 'success' AND j.name = $3 AND j.kind = 'build'
			AND NOT j.retried AND `+artifactsAvailable+`
		ORDER BY pl.id DESC, j.id DESC LIMIT 1`, projectID, ref, name).Scan(&id)
	return id, mapErr(err)
}

// ArtifactsArchive returns a project's job's archive, if it has one that is
// still available.
func (q *Queries) ArtifactsArchive(ctx context.Context, projectID, jobID int64) (ArtifactsArchive, error) {
	return collectOne[ArtifactsArchive](q.db.Query(ctx, `SELECT `+artifactsColumns+`, a.content
		FROM job_artifacts a JOIN jobs j ON j.id = a.job_id JOIN pipelines pl ON pl.id = j.pipeline_id
		WHERE a.job_id = $2 AND j.project_id = $1 AND `+artifactsAvailable, projectID, jobID))
}

// ArtifactsOfJobs returns the available archives of jobs, by job id: one
// query for a whole list of job entities.
func (q *Queries) ArtifactsOfJobs(ctx context.Context, jobIDs []int64) (map[int64]JobArtifacts, error) {
	out := map[int64]JobArtifacts{}
	if len(jobIDs) == 0 {
		return out, nil
	}
	rows, err := collectAll[JobArtifacts](q.db.Query(ctx, `SELECT `+artifactsColumns+`
		FROM job_artifacts a JOIN jobs j ON j.id = a.job_id JOIN pipelines pl ON pl.id = j.pipeline_id
		WHERE a.job_id = ANY($1) AND `+artifactsAvailable, jobIDs))
	if err != nil {
		return nil, err
	}
	for _, a := range rows {
		out[a.JobID] = a
	}
	return out, nil
}

// ParseExpireIn reads a GitLab artifacts:expire_in value: "never", a number
// of seconds, or amounts with units as ChronicDuration reads them
// ("42 seconds", "3 mins 4 sec", "2 hrs 20 min", "2h20min", "6 mos 1 day",
// "47 yrs 6 mos and 4d", "3 weeks and 2 days"). A month is 30 days and a
// year 365.25 days, as in ChronicDuration.
func ParseExpireIn(s string) (d time.Duration, never bool, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, false, fmt.Errorf("expire_in is empty")
	}
	if s == "never" {
		return 0, true, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return expireSeconds(n)
	}
	var total float64
	rest := s
	for rest != "" {
		rest = strings.TrimLeftFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
		if w, ok := strings.CutPrefix(rest, "and"); ok && (w == "" || !unicode.IsLetter(rune(w[0]))) {
			rest = w
			continue
		}
		if rest == "" {
			break
		}
		i := strings.IndexFunc(rest, func(r rune) bool { return !(unicode.IsDigit(r) || r == '.') })
		if i == 0 {
			return 0, false, fmt.Errorf("expire_in %q: expected a number", s)
		}
		if i < 0 {
			i = len(rest)
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, false, fmt.Errorf("expire_in %q: %w", s, err)
		}
		rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
		j := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) })
		if j < 0 {
			j = len(rest)
		}
		unit, ok := expireUnits[rest[:j]]
		if !ok {
			return 0, false, fmt.Errorf("expire_in %q: unknown unit %q", s, rest[:j])
		}
		total += n * unit
		rest = rest[j:]
	}
	return expireSeconds(total)
}

func expireSeconds(n float64) (time.Duration, bool, error) {
	if n < 0 || n > math.MaxInt64/float64(time.Second) {
		return 0, false, fmt.Errorf("expire_in out of range")
	}
	return time.Duration(n * float64(time.Second)), false, nil
}

// expireUnits are ChronicDuration's unit words, in seconds.
var expireUnits = func() map[string]float64 {
	m := map[string]float64{"": 1}
	for unit, words := range map[float64][]string{
		1:              {"s", "sec", "secs", "second", "seconds"},
		60:             {"m", "min", "mins", "minute", "minutes"},
		3600:           {"h", "hr", "hrs", "hour", "hours"},
		86400:          {"d", "day", "days"},
		7 * 86400:      {"w", "wk", "wks", "week", "weeks"},
		30 * 86400:     {"mo", "mos", "month", "months"},
		365.25 * 86400: {"y", "yr", "yrs", "year", "years"},
	} {
		for _, w := range words {
			m[w] = unit
		}
	}
	return m
}()
