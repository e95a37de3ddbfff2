package test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// schedulerLockKey is the dispatchers' scheduler leader lock (the
// scheduler.Config default).
const schedulerLockKey = 7261536102

// leaderPID is the process id of the dispatcher holding the scheduler lock,
// read from the application_name of its database session; 0 when none leads.
func (s *stack) leaderPID(t *testing.T) int {
	t.Helper()
	var name string
	err := s.DB.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
		AND a.datname = current_database()`, int64(schedulerLockKey)).Scan(&name)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(name, "triggerd-dispatcher-"))
	require.NoError(t, err)
	return pid
}

// TestSchedulerFiresAndLeaderTakeover: a due schedule becomes a schedule
// pipeline; when the leading dispatcher is killed, the other takes over and
// fires the next due schedule, and no slot fires twice.
func TestSchedulerFiresAndLeaderTakeover(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Dispatchers: 2})
	owner := s.CreateUser(t, "cron")
	p := s.CreateProject(t, owner, "nightly:\n  script: [echo nightly]\n  only: [schedules]\n")
	due := func() int64 {
		var id int64
		require.NoError(t, s.DB.QueryRow(context.Background(), `INSERT INTO pipeline_schedules (project_id, owner_id, description, ref, cron, next_run_at)
			VALUES ($1, $2, 'nightly', 'master', '0 0 * * *', now() - interval '1 second') RETURNING id`, p.ID, owner.ID).Scan(&id))
		return id
	}
	countFor := func(id int64) int {
		var n int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines WHERE schedule_id = $1`, id).Scan(&n))
		return n
	}

	first := due()
	eventually(t, 30*time.Second, "the due schedule to fire", func() bool { return countFor(first) == 1 })
	require.Len(t, s.ListPipelines(t, owner.Token, p.ID, "source=schedule"), 1)

	var leader int
	eventually(t, 30*time.Second, "a leader", func() bool { leader = s.leaderPID(t); return leader != 0 })
	killed := false
	for _, d := range s.Dispatchers {
		if d.Cmd.Process.Pid == leader {
			require.NoError(t, d.Cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	require.True(t, killed, "the leader is one of the stack's dispatchers")
	eventually(t, 30*time.Second, "another dispatcher to lead", func() bool {
		pid := s.leaderPID(t)
		return pid != 0 && pid != leader
	})
	second := due()
	eventually(t, 30*time.Second, "the new leader to fire", func() bool { return countFor(second) == 1 })
	require.Equal(t, 1, countFor(first), "the first slot was not fired again")
}

// TestSchedulerFiresOnceAfterDowntime: three per-minute schedules whose
// last ten slots passed while no dispatcher ran fire once each when one
// starts, as the latest missed slot, and are next due at their next slot.
func TestSchedulerFiresOnceAfterDowntime(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Dispatchers: -1})
	owner := s.CreateUser(t, "cron")
	p := s.CreateProject(t, owner, "nightly:\n  script: [echo nightly]\n  only: [schedules]\n")
	// A cron naming exactly the last ten minutes: every one of them was
	// missed, and the next slot is fifty minutes away.
	now := time.Now().UTC().Truncate(time.Minute)
	var minutes []string
	for i := 10; i >= 1; i-- {
		minutes = append(minutes, strconv.Itoa(now.Add(-time.Duration(i)*time.Minute).Minute()))
	}
	cron := strings.Join(minutes, ",") + " * * * *"
	latest := now.Add(-time.Minute)
	var ids []int64
	for range 3 {
		var id int64
		require.NoError(t, s.DB.QueryRow(context.Background(), `INSERT INTO pipeline_schedules (project_id, owner_id, description, ref, cron, next_run_at)
			VALUES ($1, $2, 'every minute', 'master', $3, $4) RETURNING id`, p.ID, owner.ID, cron, now.Add(-10*time.Minute)).Scan(&id))
		ids = append(ids, id)
	}

	s.Dispatchers = append(s.Dispatchers, s.StartDispatcher())
	count := func() int {
		var n int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines WHERE project_id = $1`, p.ID).Scan(&n))
		return n
	}
	eventually(t, 30*time.Second, "every schedule to fire", func() bool { return count() >= len(ids) })
	eventually(t, 10*time.Second, "every schedule to move past now", func() bool {
		var late int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipeline_schedules WHERE project_id = $1 AND next_run_at <= now()`,
			p.ID).Scan(&late))
		return late == 0
	})
	// Let the scheduler look again a few times: nothing more fires.
	time.Sleep(3 * time.Second)
	require.Equal(t, len(ids), count(), "one pipeline per schedule, not one per missed slot")
	for _, id := range ids {
		var eventID string
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT event_id FROM pipelines WHERE schedule_id = $1`, id).Scan(&eventID))
		require.Equal(t, "schedule-"+strconv.FormatInt(id, 10)+"-"+strconv.FormatInt(latest.Unix(), 10), eventID, "the latest missed slot fired")
		var next time.Time
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT next_run_at FROM pipeline_schedules WHERE id = $1`, id).Scan(&next))
		require.Equal(t, now.Add(50*time.Minute), next.UTC())
	}
}
