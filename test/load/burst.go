package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/triggerd/triggerd/test/loadresult"
)

// runBurst measures a cron burst: c.Schedules active schedules spread over
// c.Projects projects, all due at the same minute boundary, while ordinary
// triggers arrive at c.Rate. It reports the time from the boundary until
// every schedule's pipeline exists, read from the stack's database, and the
// latency of the ordinary triggers sent during that time.
func runBurst(ctx context.Context, c config, m *mix) (*loadresult.Result, error) {
	if c.Rate <= 0 {
		return nil, errors.New("-schedules needs -rate: the ordinary triggers during the burst arrive at a fixed rate")
	}
	if c.DatabaseURL == "" {
		return nil, errors.New("-schedules needs -database-url (or DATABASE_URL) to see the pipelines appear")
	}
	db, err := pgxpool.New(ctx, c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}

	boundary := time.Now().Add(c.Lead).Truncate(time.Minute).Add(time.Minute)
	fx, err := setUp(ctx, c, m)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer fx.tearDown()
	if err := fx.createSchedules(ctx, c.Schedules, boundary); err != nil {
		return nil, err
	}
	if time.Until(boundary) < 5*time.Second {
		return nil, fmt.Errorf("setting up took until %s, too close to the boundary %s; raise -lead",
			time.Now().UTC().Format(time.TimeOnly), boundary.Format(time.TimeOnly))
	}
	ids := make([]int64, len(fx.projects))
	for i, p := range fx.projects {
		ids[i] = p.ID
	}
	const scheduled = `FROM pipelines WHERE source = 'schedule' AND project_id = ANY($1)`
	count := func(ctx context.Context) (n, slots int, first, last time.Time, err error) {
		err = db.QueryRow(ctx, `SELECT count(*), count(DISTINCT schedule_id), coalesce(min(created_at), 'epoch'),
			coalesce(max(created_at), 'epoch') `+scheduled, ids).Scan(&n, &slots, &first, &last)
		return
	}
	// poll counts the burst's pipelines so far. Each poll reads every one
	// of them (about 20 ms of Postgres's CPU at 10,000 here), so it runs
	// every 100 ms, and every 20 ms only over the last twentieth, where the
	// moment they all exist is decided: polling every 20 ms throughout took
	// a quarter of a core from the burst it was measuring.
	poll := func(ctx context.Context) (n int, err error) {
		err = db.QueryRow(ctx, `SELECT count(*) `+scheduled, ids).Scan(&n)
		return
	}
	pollEvery := func(n int) time.Duration {
		if n >= c.Schedules-c.Schedules/20 {
			return 20 * time.Millisecond
		}
		return 100 * time.Millisecond
	}

	// Ordinary triggers start five seconds before the boundary and stop
	// a second after the last schedule pipeline appeared.
	if !c.Quiet {
		fmt.Fprintf(os.Stderr, "%d schedules due at %s; waiting\n", c.Schedules, boundary.Format(time.TimeOnly))
	}
	select {
	case <-time.After(time.Until(boundary.Add(-5 * time.Second))):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d := newDriver(c, fx, m)
	d.keepSamples = true
	stop := make(chan struct{})
	done := make(chan *loadresult.Result, 1)
	go func() { done <- d.runUntil(ctx, 10*time.Minute, stop) }()

	b := &loadresult.Burst{Schedules: c.Schedules, Projects: c.Projects, Boundary: boundary.UTC()}
	var allAt time.Time
	deadline := boundary.Add(5 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := poll(ctx)
		if err != nil {
			close(stop)
			<-done
			return nil, err
		}
		if n >= c.Schedules {
			allAt = time.Now()
			break
		}
		time.Sleep(pollEvery(n))
	}
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	close(stop)
	res := <-done

	// Read the figures once more after the extra second: a slot fired
	// twice would show up as more pipelines than schedules.
	n, slots, first, last, err := count(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	b.Pipelines, b.Duplicates = n, n-slots
	b.Complete = !allAt.IsZero()
	if b.Complete {
		b.AllExistSeconds = allAt.Sub(boundary).Seconds()
		b.FirstSeconds = first.Sub(boundary).Seconds()
		b.LastSeconds = last.Sub(boundary).Seconds()
	} else {
		allAt = time.Now()
	}
	during := newHistogram()
	for _, s := range d.samples {
		if s.due.Before(boundary) || s.due.After(allAt) {
			continue
		}
		_ = during.RecordValue(max(1, s.latency.Microseconds()))
		if s.status >= 300 {
			b.DuringBurstNon2x++
		}
	}
	b.DuringBurst = loadresult.LatencyOf(during)
	res.Burst = b
	return res, nil
}

// createSchedules creates n active schedules, round robin over the
// fixture's projects, each firing daily at the boundary's minute (UTC).
func (fx *fixture) createSchedules(ctx context.Context, n int, boundary time.Time) error {
	cron := fmt.Sprintf("%d %d * * *", boundary.UTC().Minute(), boundary.UTC().Hour())
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		p := fx.projects[i%len(fx.projects)]
		g.Go(func() error {
			_, err := fx.api.call(gctx, http.MethodPost, fmt.Sprintf("/projects/%d/pipeline_schedules", p.ID), fx.userToken, url.Values{
				"description": {fmt.Sprintf("burst %d", i+1)}, "ref": {"master"}, "cron": {cron},
				"cron_timezone": {"UTC"}, "active": {"true"},
			}, nil)
			return err
		})
	}
	return g.Wait()
}
