package pipestate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCancel(t *testing.T) {
	jobs := []Job{
		j(1, "a", 0, StatusSuccess),
		j(2, "b", 0, StatusFailed),
		j(3, "c", 0, StatusRunning),
		j(4, "d", 0, StatusPending),
		j(5, "e", 0, StatusWaitingForResource),
		j(6, "f", 0, StatusPreparing),
		j(7, "g", 0, StatusWaitingForCallback),
		j(8, "h", 1, StatusCreated),
		j(9, "i", 1, StatusScheduled, when(WhenDelayed)),
		j(10, "k", 1, StatusManual, when(WhenManual)),
		j(11, "l", 1, StatusManual, when(WhenManual), allowFailure),
		j(12, "m", 1, StatusSkipped),
		j(13, "n", 1, StatusCanceled),
		j(14, "o", 1, StatusCanceling),
		j(15, "p", 1, StatusRunning, retried),
	}
	got := Cancel(jobs)
	require.Equal(t, []Transition{
		tr(3, StatusCanceled), tr(4, StatusCanceled), tr(5, StatusCanceled), tr(6, StatusCanceled),
		tr(7, StatusCanceled), tr(8, StatusCanceled), tr(9, StatusCanceled),
	}, got)

	after := apply(jobs, got)
	require.Empty(t, Advance(after))
	require.Empty(t, Cancel(after), "canceling twice changes nothing")
	status, _ := Status(after)
	require.Equal(t, StatusManual, status, "the blocking manual job survives the cancel")

	status, _ = Status(apply(jobs[:9], got))
	require.Equal(t, StatusFailed, status)
}

func TestCancelThenStatus(t *testing.T) {
	tests := []struct {
		name string
		jobs []Job
		want string
	}{
		{"running pipeline", []Job{j(1, "a", 0, StatusSuccess), j(2, "b", 1, StatusRunning), j(3, "c", 2, StatusCreated)}, StatusCanceled},
		{"allow_failure manual job left", []Job{j(1, "a", 0, StatusRunning), j(2, "b", 0, StatusManual, when(WhenManual), allowFailure)}, StatusCanceled},
		{"with a failure", []Job{j(1, "a", 0, StatusFailed), j(2, "b", 0, StatusRunning)}, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := Status(apply(tt.jobs, Cancel(tt.jobs)))
			require.Equal(t, tt.want, status)
		})
	}
}
