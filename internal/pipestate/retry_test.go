package pipestate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		jobs      []Job
		wantClone []int64
		wantReset []int64
	}{
		{"nothing to retry", []Job{j(1, "a", 0, StatusSuccess), j(2, "b", 1, StatusRunning)}, nil, nil},
		{
			name: "failed and canceled jobs are cloned, skipped ones reset",
			jobs: []Job{
				j(1, "a", 0, StatusSkipped),
				j(2, "b", 1, StatusFailed),
				j(3, "c", 1, StatusCanceled),
				j(4, "d", 1, StatusFailed, allowFailure),
				j(5, "e", 1, StatusCanceling),
				j(6, "f", 2, StatusSkipped),
				j(7, "g", 2, StatusManual, when(WhenManual)),
				j(8, "h", 2, StatusSuccess),
				j(9, "i", 2, StatusCreated),
				j(10, "j", 1, StatusFailed, retried),
				j(11, "k", 2, StatusSkipped, retried),
			},
			wantClone: []int64{2, 3, 4, 5},
			wantReset: []int64{1, 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clone, reset := Retry(tt.jobs)
			require.Equal(t, tt.wantClone, clone)
			require.Equal(t, tt.wantReset, reset)
		})
	}
}

// TestRetryThenAdvance plays the dispatcher's part: clone, mark old attempts
// retried, reset skipped jobs, then process.
func TestRetryThenAdvance(t *testing.T) {
	jobs := []Job{
		j(1, "build", 0, StatusSuccess),
		j(2, "test", 1, StatusFailed),
		j(3, "deploy", 2, StatusSkipped),
		j(4, "cleanup", 2, StatusSuccess, when(WhenOnFailure)),
	}
	clone, reset := Retry(jobs)
	require.Equal(t, []int64{2}, clone)
	require.Equal(t, []int64{3}, reset)

	jobs[1].Retried = true
	jobs = append(jobs, j(5, "test", 1, StatusCreated))
	jobs = set(jobs, StatusCreated, reset...)
	status, _ := Status(jobs)
	require.Equal(t, StatusRunning, status)

	require.Equal(t, []int64{5}, pendingIDs(t, &jobs), "the new attempt runs, deploy waits for it")
	jobs = set(jobs, StatusSuccess, 5)
	require.Equal(t, []int64{3}, pendingIDs(t, &jobs))
	jobs = set(jobs, StatusSuccess, 3)
	status, _ = Status(jobs)
	require.Equal(t, StatusSuccess, status)
}
