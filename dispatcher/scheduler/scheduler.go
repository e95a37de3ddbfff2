// Package scheduler fires pipeline schedules. Every dispatcher runs one, but
// only the holder of a Postgres advisory lock fires: when it dies its session
// ends, the lock is free, and another dispatcher takes over within a few
// seconds.
//
// Each due schedule becomes a trigger event with source schedule whose id is
// derived from (schedule id, scheduled time). A slot fired twice — by a
// leader that lost its lock without noticing, or by a retry after a crash
// between publishing and committing — is one pipeline: JetStream deduplicates
// the event id, and past its window the dispatcher finds the pipeline by it.
// Due rows are claimed in batches with FOR UPDATE SKIP LOCKED, their events
// published asynchronously, and their next_run_at advanced in one statement.
// A batch is fired only while the slots fired before it are nearly all
// decided (Config.Backlog), so a burst flows through at the pace the
// dispatchers decide it instead of landing on the machine at once.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
)

// NextFunc is when a cron expression in a time zone next fires after a
// time (cronspec.Next in production).
type NextFunc func(cron, timezone string, after time.Time) (time.Time, error)

// Config tunes the scheduler.
type Config struct {
	// Interval is how often the leader looks for due schedules.
	Interval time.Duration
	// Batch is how many due schedules one transaction claims.
	Batch int
	// CatchUp is what happens to slots missed while no scheduler ran:
	// "latest" fires the latest missed slot once, "none" fires nothing
	// until the next slot.
	CatchUp string
	// LockKey is the advisory lock of the leader.
	LockKey int64
	// Backlog, when set, is how many fired slots wait to be decided (the
	// slot consumer's pending and unacknowledged messages). The leader
	// fires the next batch only once it is below MaxBacklog, so that a
	// burst is fired about as fast as the dispatchers decide it, not all
	// in its first half second, when firing ten thousand slots took the
	// machine from the ordinary triggers arriving meanwhile.
	Backlog func(context.Context) (int64, error)
	// MaxBacklog is the most fired slots left waiting before the leader
	// fires more (default 2 × Batch).
	MaxBacklog int
	// BacklogWait bounds how long the leader waits for the backlog to
	// shrink before it fires anyway (default 10 s): slow deciders delay a
	// burst, they do not stop it.
	BacklogWait time.Duration
}

// Scheduler fires due schedules while it leads.
type Scheduler struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	js   jetstream.JetStream
	next NextFunc
}

// New makes a scheduler.
func New(cfg Config, log *slog.Logger, pool *pgxpool.Pool, js jetstream.JetStream, next NextFunc) *Scheduler {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = 2 * cfg.Batch
	}
	if cfg.BacklogWait <= 0 {
		cfg.BacklogWait = 10 * time.Second
	}
	if cfg.CatchUp == "" {
		cfg.CatchUp = "latest"
	}
	if cfg.LockKey == 0 {
		cfg.LockKey = 7261536102
	}
	return &Scheduler{cfg: cfg, log: log, pool: pool, js: js, next: next}
}

// Run competes for leadership and fires due schedules while leading, until
// ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		led, err := s.lead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Warn("scheduler", "err", err)
		}
		if led {
			s.log.Info("scheduler leadership lost")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * s.cfg.Interval):
		}
	}
}

// lead takes the leader lock if it is free and fires schedules until the
// lock's session fails or ctx ends. led reports whether it led at all.
func (s *Scheduler) lead(ctx context.Context) (led bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, s.cfg.LockKey).Scan(&got); err != nil {
		return false, err
	}
	if !got {
		return false, nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, s.cfg.LockKey)
	}()
	s.log.Info("scheduler leading")
	t := time.NewTimer(nextTick(time.Now(), s.cfg.Interval))
	defer t.Stop()
	for {
		// The lock lives as long as this session: check it still does.
		if _, err := conn.Exec(ctx, `SELECT 1`); err != nil {
			return true, fmt.Errorf("leader session: %w", err)
		}
		if n, err := s.FireDue(ctx, time.Now()); err != nil {
			s.log.Warn("fire due schedules", "err", err)
		} else if n > 0 {
			s.log.Info("fired schedules", "count", n)
		}
		select {
		case <-ctx.Done():
			return true, nil
		case <-t.C:
			t.Reset(nextTick(time.Now(), s.cfg.Interval))
		}
	}
}

// nextTick is how long until the next whole multiple of every on the wall
// clock, and a few milliseconds: cron slots fall on whole minutes, so the
// leader fires a slot right after it falls due, not up to an interval later.
func nextTick(now time.Time, every time.Duration) time.Duration {
	return now.Truncate(every).Add(every + 5*time.Millisecond).Sub(now)
}

type due struct {
	ID        int64
	ProjectID int64
	Ref       string
	Cron      string
	Zone      string
	NextRunAt time.Time
}

// FireDue fires every schedule due at now, in batches paced by the backlog
// of fired slots, and returns how many slots it fired.
func (s *Scheduler) FireDue(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		var due bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pipeline_schedules WHERE active AND next_run_at <= $1)`,
			now).Scan(&due); err != nil || !due {
			return total, err
		}
		if err := s.awaitBacklog(ctx); err != nil {
			return total, err
		}
		n, more, err := s.fireBatch(ctx, now)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// awaitBacklog returns once fewer than MaxBacklog fired slots wait to be
// decided, or after BacklogWait, or at once when the backlog cannot be
// read.
func (s *Scheduler) awaitBacklog(ctx context.Context) error {
	if s.cfg.Backlog == nil {
		return nil
	}
	deadline := time.Now().Add(s.cfg.BacklogWait)
	for {
		n, err := s.cfg.Backlog(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("read the schedule slot backlog; firing without it", "err", err)
			return nil
		}
		if n < int64(s.cfg.MaxBacklog) || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Scheduler) fireBatch(ctx context.Context, now time.Time) (fired int, more bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, project_id, ref, cron, cron_timezone, next_run_at FROM pipeline_schedules
			WHERE active AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, s.cfg.Batch)
		if err != nil {
			return err
		}
		dues, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			err := r.Scan(&d.ID, &d.ProjectID, &d.Ref, &d.Cron, &d.Zone, &d.NextRunAt)
			return d, err
		})
		if err != nil {
			return err
		}
		more = len(dues) == s.cfg.Batch
		ids := make([]int64, 0, len(dues))
		nexts := make([]time.Time, 0, len(dues))
		var msgs []broker.Message
		for _, d := range dues {
			slot, next, err := s.plan(d, now)
			if err != nil {
				// A schedule whose cron no longer parses is deactivated
				// rather than retried every second.
				s.log.Warn("schedule cannot be computed; deactivating", "schedule_id", d.ID, "err", err)
				if _, err := tx.Exec(ctx, `UPDATE pipeline_schedules SET active = false, last_error = $2 WHERE id = $1`,
					d.ID, "invalid cron: "+err.Error()); err != nil {
					return err
				}
				continue
			}
			ids, nexts = append(ids, d.ID), append(nexts, next)
			if slot.IsZero() {
				continue
			}
			ev := event.TriggerRequested{
				EventID: EventID(d.ID, slot), ProjectID: d.ProjectID, Ref: d.Ref, Source: "schedule",
				ScheduleID: d.ID, RequestedAt: now.UTC(),
			}
			data, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			msgs = append(msgs, broker.Message{Subject: event.ScheduledSubject(d.ProjectID), Data: data, MsgID: ev.EventID})
		}
		// Every event is stored before next_run_at moves: a crash in
		// between re-fires the same slots, which deduplicate.
		if err := broker.PublishAll(ctx, s.js, msgs); err != nil {
			return fmt.Errorf("publish schedule events: %w", err)
		}
		fired = len(msgs)
		_, err = tx.Exec(ctx, `UPDATE pipeline_schedules s SET next_run_at = t.next, updated_at = now()
			FROM unnest($1::bigint[], $2::timestamptz[]) AS t(id, next) WHERE s.id = t.id`, ids, nexts)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	return fired, more, nil
}

// maxCatchUpSteps bounds the walk over missed slots (a per-minute schedule
// down for a week is about 10,000 steps).
const maxCatchUpSteps = 100000

// plan decides which slot of a due schedule fires now (zero: none) and when
// it is next due. With catch-up "latest", slots missed while no scheduler ran
// fire once, as the latest of them; with "none" only a slot due within one
// interval of now fires.
func (s *Scheduler) plan(d due, now time.Time) (slot, next time.Time, err error) {
	slot = d.NextRunAt
	for i := 0; i < maxCatchUpSteps; i++ {
		n, err := s.next(d.Cron, d.Zone, slot)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		if n.After(now) {
			next = n
			break
		}
		slot = n
	}
	if next.IsZero() {
		if next, err = s.next(d.Cron, d.Zone, now); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if s.cfg.CatchUp == "none" && now.Sub(slot) > 2*s.cfg.Interval+time.Minute {
		return time.Time{}, next, nil
	}
	return slot, next, nil
}

// EventID is the trigger event id of a schedule's slot.
func EventID(scheduleID int64, slot time.Time) string {
	return "schedule-" + strconv.FormatInt(scheduleID, 10) + "-" + strconv.FormatInt(slot.Unix(), 10)
}
