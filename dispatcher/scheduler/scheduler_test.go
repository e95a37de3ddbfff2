package scheduler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/cronspec"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

type fixture struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	project int64
	owner   int64
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	admin, err := store.New(pool).EnsureAdmin(ctx, secret.Digest("admin"))
	require.NoError(t, err)
	var projectID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace)
		SELECT id, 'app', 'app', 'root/app' FROM namespaces WHERE owner_id = $1 RETURNING id`, admin.ID).Scan(&projectID))
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	return fixture{pool: pool, js: js, project: projectID, owner: admin.ID}
}

func (f fixture) schedule(t *testing.T, cronExpr string, nextRun time.Time, active bool) int64 {
	t.Helper()
	var id int64
	require.NoError(t, f.pool.QueryRow(context.Background(), `INSERT INTO pipeline_schedules
		(project_id, owner_id, description, ref, cron, next_run_at, active) VALUES ($1, $2, 'd', 'main', $3, $4, $5) RETURNING id`,
		f.project, f.owner, cronExpr, nextRun, active).Scan(&id))
	return id
}

// events returns the ids of the trigger events stored so far.
func (f fixture) events(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	st, err := f.js.Stream(ctx, event.TriggersStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	var ids []string
	// A work-queue stream allows no ordered consumer: read by sequence.
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		require.NoError(t, err)
		var ev event.TriggerRequested
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		require.Equal(t, "schedule", ev.Source)
		ids = append(ids, ev.EventID)
	}
	return ids
}

func (f fixture) nextRun(t *testing.T, id int64) time.Time {
	t.Helper()
	var next time.Time
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT next_run_at FROM pipeline_schedules WHERE id = $1`, id).Scan(&next))
	return next
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestFireDueFiresEachSlotOnceInBatches(t *testing.T) {
	f := newFixture(t)
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	var ids []int64
	for i := 0; i < 25; i++ {
		ids = append(ids, f.schedule(t, "0 0 * * *", midnight, true))
	}
	inactive := f.schedule(t, "0 0 * * *", midnight, false)
	notYet := f.schedule(t, "0 0 * * *", midnight.Add(24*time.Hour), true)

	s := New(Config{Batch: 10}, quiet(), f.pool, f.js, cronspec.Next)
	n, err := s.FireDue(context.Background(), midnight.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 25, n)
	got := f.events(t)
	require.Len(t, got, 25)
	for _, id := range ids {
		require.Contains(t, got, EventID(id, midnight))
		require.Equal(t, midnight.Add(24*time.Hour), f.nextRun(t, id).UTC())
	}
	require.Equal(t, midnight, f.nextRun(t, inactive).UTC(), "inactive schedules are not fired")
	require.Equal(t, midnight.Add(24*time.Hour), f.nextRun(t, notYet).UTC())

	// The same minute again (a second leader, a retry): nothing new.
	n, err = s.FireDue(context.Background(), midnight.Add(2*time.Second))
	require.NoError(t, err)
	require.Zero(t, n)

	// Firing a slot twice (a crash after publishing, before the commit)
	// stores one event: the id names the slot.
	_, err = f.pool.Exec(context.Background(), `UPDATE pipeline_schedules SET next_run_at = $1 WHERE id = $2`, midnight, ids[0])
	require.NoError(t, err)
	n, err = s.FireDue(context.Background(), midnight.Add(3*time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, f.events(t), 25, "the repeated slot was deduplicated")
}

// A burst is fired as fast as it is decided: the leader fires the next
// batch only while fewer than MaxBacklog fired slots wait, and fires anyway
// once BacklogWait has passed.
func TestFireDueWaitsForTheBacklog(t *testing.T) {
	f := newFixture(t)
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for range 30 {
		f.schedule(t, "0 0 * * *", midnight, true)
	}
	var decided atomic.Int64
	backlog := func(context.Context) (int64, error) { return int64(len(f.events(t))) - decided.Load(), nil }
	s := New(Config{Batch: 10, MaxBacklog: 15, Backlog: backlog, BacklogWait: time.Minute}, quiet(), f.pool, f.js, cronspec.Next)
	fired := make(chan int, 1)
	go func() {
		n, err := s.FireDue(context.Background(), midnight.Add(time.Second))
		assert.NoError(t, err)
		fired <- n
	}()
	require.Eventually(t, func() bool { return len(f.events(t)) == 20 }, 5*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool { return len(f.events(t)) > 20 }, 300*time.Millisecond, 20*time.Millisecond,
		"fired a third batch while 20 slots waited")
	decided.Store(10)
	select {
	case n := <-fired:
		require.Equal(t, 30, n)
	case <-time.After(5 * time.Second):
		t.Fatal("the backlog shrank and the leader fired nothing more")
	}
	require.Len(t, f.events(t), 30)

	// A backlog that never shrinks delays the slots, it does not drop them.
	for range 10 {
		f.schedule(t, "0 0 * * *", midnight.Add(24*time.Hour), true)
	}
	s = New(Config{Batch: 10, MaxBacklog: 1, Backlog: backlog, BacklogWait: 100 * time.Millisecond}, quiet(), f.pool, f.js, cronspec.Next)
	n, err := s.FireDue(context.Background(), midnight.Add(24*time.Hour+time.Second))
	require.NoError(t, err)
	require.Equal(t, 10+30, n, "every due slot fired: the next day's 30 and the 10 new ones")
}

func TestDowntimeFiresTheLatestMissedSlotOnce(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	every := f.schedule(t, "* * * * *", start, true)
	back := start.Add(10*time.Minute + 30*time.Second) // ten minutes down

	n, err := New(Config{}, quiet(), f.pool, f.js, cronspec.Next).FireDue(context.Background(), back)
	require.NoError(t, err)
	require.Equal(t, 1, n, "one run for ten missed slots")
	require.Equal(t, []string{EventID(every, start.Add(10*time.Minute))}, f.events(t))
	require.Equal(t, start.Add(11*time.Minute), f.nextRun(t, every).UTC())

	// A nightly schedule whose midnight passed while nothing ran, seen at
	// 10:00: "none" skips it to the next night.
	g := newFixture(t)
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	none := g.schedule(t, "0 0 * * *", midnight, true)
	n, err = New(Config{CatchUp: "none"}, quiet(), g.pool, g.js, cronspec.Next).FireDue(context.Background(), start)
	require.NoError(t, err)
	require.Zero(t, n, "catch_up none skips missed slots")
	require.Equal(t, midnight.Add(24*time.Hour), g.nextRun(t, none).UTC())
}

func TestTimeZones(t *testing.T) {
	f := newFixture(t)
	// 09:00 in New York is 14:00 UTC in winter.
	due := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	var id int64
	require.NoError(t, f.pool.QueryRow(context.Background(), `INSERT INTO pipeline_schedules
		(project_id, owner_id, description, ref, cron, cron_timezone, next_run_at) VALUES ($1, $2, 'd', 'main', '0 9 * * *', 'America/New_York', $3) RETURNING id`,
		f.project, f.owner, due).Scan(&id))
	n, err := New(Config{}, quiet(), f.pool, f.js, cronspec.Next).FireDue(context.Background(), due.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, due.Add(24*time.Hour), f.nextRun(t, id).UTC())
}

func TestOneLeaderAtATime(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := New(Config{Interval: 50 * time.Millisecond, LockKey: 99001}, quiet(), f.pool, f.js, cronspec.Next)
	b := New(Config{Interval: 50 * time.Millisecond, LockKey: 99001}, quiet(), f.pool, f.js, cronspec.Next)
	aCtx, stopA := context.WithCancel(ctx)
	aDone := make(chan struct{})
	go func() { _ = a.Run(aCtx); close(aDone) }()

	isLocked := func() bool {
		var held bool
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 99001 AND granted)`).Scan(&held))
		return held
	}
	require.Eventually(t, isLocked, 10*time.Second, 20*time.Millisecond)
	// B cannot lead while A does.
	led, err := b.lead(contextWithTimeout(t, 200*time.Millisecond))
	require.NoError(t, err)
	require.False(t, led)

	// A stops (its dispatcher dies): B takes over.
	stopA()
	<-aDone
	// A stopped mid-query has its connection closed, and its backend
	// releases the lock as it exits, a moment later: B tries once that
	// happened, so that the lock seen held next is B's.
	require.Eventually(t, func() bool { return !isLocked() }, 10*time.Second, 20*time.Millisecond)
	bCtx, stopB := context.WithCancel(ctx)
	defer stopB()
	bLed := make(chan bool, 1)
	go func() { led, _ := b.lead(bCtx); bLed <- led }()
	require.Eventually(t, isLocked, 10*time.Second, 20*time.Millisecond)
	stopB()
	require.True(t, <-bLed)
}

func contextWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNextTickFallsJustAfterTheWholeInterval(t *testing.T) {
	base := time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Time
		want time.Time
	}{
		{base.Add(100 * time.Millisecond), base.Add(time.Second + 5*time.Millisecond)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second + 5*time.Millisecond)},
		{base, base.Add(time.Second + 5*time.Millisecond)},
	} {
		require.Equal(t, tc.want, tc.now.Add(nextTick(tc.now, time.Second)), "from %s", tc.now.Format(time.StampMilli))
	}
	// The slot at midnight is fired 5 ms after it, whatever the phase
	// the leader started at.
	require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 5e6, time.UTC), base.Add(300*time.Millisecond).Add(nextTick(base.Add(300*time.Millisecond), time.Second)))
}
