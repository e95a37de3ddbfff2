package pipestate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDuration(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	p := func(status string, start, end int) Period {
		return Period{Status: status, StartedAt: at(start), FinishedAt: at(end)}
	}
	now := at(100)
	tests := []struct {
		name    string
		periods []Period
		want    time.Duration
	}{
		{"no builds", nil, 0},
		{"GitLab's example: (1,3) (2,4) (6,7)", []Period{p(StatusSuccess, 6, 7), p(StatusFailed, 1, 3), p(StatusSuccess, 2, 4)}, 4 * time.Second},
		{"contained period", []Period{p(StatusSuccess, 1, 10), p(StatusSuccess, 2, 3)}, 9 * time.Second},
		{"touching periods merge", []Period{p(StatusSuccess, 1, 3), p(StatusSuccess, 3, 5)}, 4 * time.Second},
		{"running build counts until now", []Period{{Status: StatusRunning, StartedAt: at(90)}}, 10 * time.Second},
		{"canceled build counts", []Period{p(StatusCanceled, 0, 5)}, 5 * time.Second},
		{
			name: "retried, unstarted and not-run builds are left out",
			periods: []Period{
				p(StatusSuccess, 10, 20),
				{Status: StatusFailed, Retried: true, StartedAt: at(0), FinishedAt: at(10)},
				{Status: StatusPending},
				p(StatusSkipped, 30, 40),
				p(StatusManual, 30, 40),
				{Status: StatusFailed, FinishedAt: at(50)},
			},
			want: 10 * time.Second,
		},
		{"end before start counts as empty", []Period{p(StatusSuccess, 5, 3), p(StatusSuccess, 10, 11)}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Duration(tt.periods, now))
		})
	}
}

func TestQueuedDuration(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		started time.Time
		want    time.Duration
		wantOK  bool
	}{
		{"not started", time.Time{}, 0, false},
		{"under a second", created.Add(700 * time.Millisecond), 0, false},
		{"truncated to seconds", created.Add(90*time.Second + 700*time.Millisecond), 90 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := QueuedDuration(created, tt.started)
			require.Equal(t, tt.want, d)
			require.Equal(t, tt.wantOK, ok)
		})
	}
}
