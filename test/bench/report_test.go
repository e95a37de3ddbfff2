package main

import (
	"strings"
	"testing"

	"github.com/triggerd/triggerd/test/loadresult"
)

// TestReportRatiosAndTargets renders a report from known figures: each
// ratio is to the ceiling (a), and each target is judged from the figure.
func TestReportRatiosAndTargets(t *testing.T) {
	res := func(perSecond, p99 float64) *loadresult.Result {
		r := &loadresult.Result{Mode: "closed", Concurrency: 128, Seconds: 60, AcceptedPerSecond: perSecond,
			Statuses: map[string]int64{"201": 10}}
		r.Latency.P99 = p99
		return r
	}
	d := res(2500, 40)
	d.Mode, d.OfferedRate = "open", 2500
	f := res(200, 30)
	f.Burst = &loadresult.Burst{Schedules: 10000, Projects: 100, Pipelines: 10000, AllExistSeconds: 6.5, Complete: true}
	f.Burst.DuringBurst.P99 = 20
	report := renderReport(config{Concurrency: 128}, []figure{
		{Key: "a", Result: res(10000, 10)}, {Key: "b", Result: res(8000, 50)}, {Key: "b2", Result: res(4000, 50)}, {Key: "c", Result: res(5000, 60)},
		{Key: "d2", Result: res(2500, 120)}, {Key: "d", Result: d}, {Key: "e1", Result: res(5000, 60)}, {Key: "e2", Result: res(7500, 60)}, {Key: "f", Result: f},
	})
	if i := strings.Index(report, "%!"); i >= 0 {
		t.Errorf("the report has a formatting error: %q", report[max(0, i-40):min(len(report), i+40)])
	}
	row := func(key string) string {
		for _, line := range strings.Split(report, "\n") {
			if strings.HasPrefix(line, "| "+key+" |") {
				return line
			}
		}
		t.Fatalf("no row %s in\n%s", key, report)
		return ""
	}
	for _, tc := range []struct{ key, want string }{
		{"a", "10,000/s"},
		{"b", "| 0.80 | ≥ 8,000/s | yes |"},
		{"b2", "4,000/s accepted, p99 50.0 ms | 0.40 | – | – |"},
		{"c", "| 0.50 | ≥ 5,000/s and ≥ 0.5 × (a) | yes |"},
		{"d", "p99 40.0 ms; right after (c), not settled: p50 0.0 ms, p99 120 ms | – | p99 ≤ 50 ms | yes |"},
		{"e", "5,000/s vs 7,500/s (× 1.50) | 0.50 / 0.75"},
		{"f", "exist 6.50 s after the minute; ordinary p99 during it 20.0 ms | – | ≤ 5 s; p99 < 50 ms | **no** |"},
	} {
		if !strings.Contains(row(tc.key), tc.want) {
			t.Errorf("row %s = %q, want it to contain %q", tc.key, row(tc.key), tc.want)
		}
	}
}
