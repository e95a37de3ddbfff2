// Package loadresult is what the load tool (test/load) measured in one run,
// as it prints it and as it writes it in JSON for make bench (test/bench).
package loadresult

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one run measured; it is printed as a table and written
// as JSON.
type Result struct {
	Label             string           `json:"label,omitempty"`
	Target            string           `json:"target"`
	Mode              string           `json:"mode"`
	OfferedRate       float64          `json:"offered_rate,omitempty"`
	Concurrency       int              `json:"concurrency"`
	Forms             string           `json:"forms"`
	Keys              string           `json:"keys"`
	Async             bool             `json:"async"`
	Seconds           float64          `json:"seconds"`
	Answered          int64            `json:"answered"`
	Accepted          int64            `json:"accepted"`
	AcceptedPerSecond float64          `json:"accepted_per_second"`
	Statuses          map[string]int64 `json:"statuses"`
	Errors            int64            `json:"errors"`
	ErrorSample       string           `json:"error_sample,omitempty"`
	Latency           Latency          `json:"latency_ms"`
	E2E               *E2E             `json:"end_to_end,omitempty"`
	Burst             *Burst           `json:"burst,omitempty"`
}

// Latency is in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// LatencyOf reads the percentiles of a histogram of microseconds.
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Count: h.TotalCount(), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()),
	}
}

// String is the percentiles on one line.
func (l Latency) String() string {
	return fmt.Sprintf("p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (n=%d)", l.P50, l.P95, l.P99, l.Max, l.Count)
}

// E2E is how fast accepted triggers became visible pipelines.
type E2E struct {
	Expected     int     `json:"expected_pipelines"`
	Visible      int     `json:"visible_pipelines"`
	Complete     bool    `json:"complete"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"pipelines_per_second"`
	JobsOfLatest int     `json:"jobs_of_latest_pipeline"`
}

// Burst is what a schedule burst measured.
type Burst struct {
	Schedules        int       `json:"schedules"`
	Projects         int       `json:"projects"`
	Boundary         time.Time `json:"boundary"`
	Pipelines        int       `json:"pipelines"`
	Duplicates       int       `json:"duplicate_slots"`
	AllExistSeconds  float64   `json:"all_exist_after_seconds"`
	FirstSeconds     float64   `json:"first_created_after_seconds"`
	LastSeconds      float64   `json:"last_created_after_seconds"`
	Complete         bool      `json:"complete"`
	DuringBurst      Latency   `json:"ordinary_during_burst_ms"`
	DuringBurstNon2x int64     `json:"ordinary_during_burst_non_2xx"`
}

// Print writes the result as a table.
func (r *Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	if r.Label != "" {
		row("run", "%s", r.Label)
	}
	row("target", "%s", r.Target)
	load := fmt.Sprintf("closed loop, %d workers", r.Concurrency)
	if r.Mode == "open" {
		load = fmt.Sprintf("open loop, %.0f/s offered, at most %d in flight", r.OfferedRate, r.Concurrency)
	}
	row("load", "%s", load)
	row("forms", "%s; keys %s; async %v", r.Forms, r.Keys, r.Async)
	row("duration", "%.1f s", r.Seconds)
	row("answered", "%d", r.Answered)
	var codes []string
	for code, n := range r.Statuses {
		codes = append(codes, fmt.Sprintf("%s: %d", code, n))
	}
	sort.Strings(codes)
	row("statuses", "%s", strings.Join(codes, ", "))
	if r.Errors > 0 {
		row("errors", "%d", r.Errors)
	}
	if r.ErrorSample != "" {
		row("first failure", "%.200s", r.ErrorSample)
	}
	row("accepted/s", "%.0f", r.AcceptedPerSecond)
	row("latency", "%s", r.Latency)
	if e := r.E2E; e != nil {
		row("pipelines visible", "%d of %d (complete: %v), jobs in the latest: %d", e.Visible, e.Expected, e.Complete, e.JobsOfLatest)
		row("end-to-end", "%.0f pipelines/s over %.1f s", e.PerSecond, e.Seconds)
	}
	if b := r.Burst; b != nil {
		row("schedules", "%d over %d projects, due %s", b.Schedules, b.Projects, b.Boundary.Format(time.RFC3339))
		row("schedule pipelines", "%d (duplicate slots: %d, complete: %v)", b.Pipelines, b.Duplicates, b.Complete)
		row("all exist after", "%.2f s (first created %.2f s, last created %.2f s after the boundary)", b.AllExistSeconds, b.FirstSeconds, b.LastSeconds)
		row("ordinary during burst", "%s, non-2xx %d", b.DuringBurst, b.DuringBurstNon2x)
	}
	_ = tw.Flush()
}
