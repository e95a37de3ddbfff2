package main

import (
	"testing"
	"time"
)

// The visibility poll waits for about half of what the current rate needs
// for the rest, within bounds, and polls often when nothing is moving yet.
func TestNextPoll(t *testing.T) {
	for _, tc := range []struct {
		name           string
		left, grew     int
		interval, want time.Duration
	}{
		{"first count", 1000, 500, 0, 100 * time.Millisecond},
		{"nothing appeared yet", 100000, 0, time.Second, 100 * time.Millisecond},
		{"a long backlog", 100000, 4000, time.Second, 5 * time.Second},
		{"four seconds left", 16000, 4000, time.Second, 2 * time.Second},
		{"almost done", 100, 4000, time.Second, 100 * time.Millisecond},
	} {
		if got := nextPoll(tc.left, tc.grew, tc.interval); got != tc.want {
			t.Errorf("%s: nextPoll(%d, %d, %v) = %v, want %v", tc.name, tc.left, tc.grew, tc.interval, got, tc.want)
		}
	}
}
