package pipestate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatus(t *testing.T) {
	// s builds an anonymous job; af marks it allow_failure.
	s := func(status string, opts ...opt) Job { return j(0, "", 0, status, opts...) }
	af := allowFailure
	tests := []struct {
		name         string
		jobs         []Job
		want         string
		wantWarnings bool
	}{
		{"no jobs is success", nil, StatusSuccess, false},
		{"only retried jobs is success", []Job{s(StatusFailed, retried)}, StatusSuccess, false},
		{"all skipped", []Job{s(StatusSkipped), s(StatusSkipped)}, StatusSkipped, false},
		{"only allow_failure manual is skipped", []Job{s(StatusManual, af)}, StatusSkipped, false},
		{"skipped and allow_failure manual", []Job{s(StatusSkipped), s(StatusManual, af)}, StatusSkipped, false},
		{"success and skipped", []Job{s(StatusSuccess), s(StatusSkipped)}, StatusSuccess, false},
		{"allow_failure failure is success with warnings", []Job{s(StatusSuccess), s(StatusFailed, af)}, StatusSuccess, true},
		{"allow_failure cancel is success with warnings", []Job{s(StatusSuccess), s(StatusCanceled, af)}, StatusSuccess, true},
		{"only an allow_failure failure", []Job{s(StatusFailed, af)}, StatusSuccess, true},
		{"allow_failure manual left does not block success", []Job{s(StatusSuccess), s(StatusManual, af)}, StatusSuccess, false},
		{"all created", []Job{s(StatusCreated), s(StatusCreated)}, StatusCreated, false},
		{"created and allow_failure manual", []Job{s(StatusCreated), s(StatusManual, af)}, StatusCreated, false},
		{"created keeps warnings", []Job{s(StatusCreated), s(StatusFailed, af)}, StatusCreated, true},
		{"only preparing", []Job{s(StatusPreparing)}, StatusPreparing, false},
		{"canceled", []Job{s(StatusCanceled)}, StatusCanceled, false},
		{"canceled with success and skipped", []Job{s(StatusCanceled), s(StatusSuccess), s(StatusSkipped)}, StatusCanceled, false},
		{"only pending", []Job{s(StatusPending)}, StatusPending, false},
		{"pending with created and skipped", []Job{s(StatusPending), s(StatusCreated), s(StatusSkipped)}, StatusPending, false},
		{"running", []Job{s(StatusRunning)}, StatusRunning, false},
		{"pending after success is running", []Job{s(StatusPending), s(StatusSuccess)}, StatusRunning, false},
		{"running wins over failed", []Job{s(StatusRunning), s(StatusFailed)}, StatusRunning, false},
		{"running wins over blocking manual", []Job{s(StatusRunning), s(StatusManual)}, StatusRunning, false},
		{"waiting_for_resource", []Job{s(StatusWaitingForResource), s(StatusSuccess)}, StatusWaitingForResource, false},
		{"waiting_for_resource wins over manual", []Job{s(StatusWaitingForResource), s(StatusManual)}, StatusWaitingForResource, false},
		{"waiting_for_callback", []Job{s(StatusWaitingForCallback), s(StatusSuccess)}, StatusWaitingForCallback, false},
		{"blocking manual", []Job{s(StatusManual)}, StatusManual, false},
		{"blocking manual with created jobs behind it", []Job{s(StatusSuccess), s(StatusManual), s(StatusCreated)}, StatusManual, false},
		{"blocking manual wins over failed", []Job{s(StatusFailed), s(StatusManual)}, StatusManual, false},
		{"manual wins over scheduled", []Job{s(StatusScheduled), s(StatusManual)}, StatusManual, false},
		{"scheduled", []Job{s(StatusSuccess), s(StatusScheduled)}, StatusScheduled, false},
		{"allow_failure scheduled is not ignored", []Job{s(StatusSuccess), s(StatusScheduled, af)}, StatusScheduled, false},
		{"preparing among others", []Job{s(StatusPreparing), s(StatusSuccess)}, StatusPreparing, false},
		{"created after success is running", []Job{s(StatusSuccess), s(StatusCreated)}, StatusRunning, false},
		{"created after failure is running", []Job{s(StatusFailed), s(StatusCreated)}, StatusRunning, false},
		{"canceling", []Job{s(StatusCanceling), s(StatusSuccess)}, StatusCanceling, false},
		{"failed", []Job{s(StatusFailed)}, StatusFailed, false},
		{"failed wins over canceled", []Job{s(StatusFailed), s(StatusCanceled)}, StatusFailed, false},
		{"failed with success and skipped", []Job{s(StatusFailed), s(StatusSuccess), s(StatusSkipped)}, StatusFailed, false},
		{"failed with warnings", []Job{s(StatusFailed), s(StatusFailed, af)}, StatusFailed, true},
		{"unknown status is failed", []Job{s("bogus"), s(StatusSuccess)}, StatusFailed, false},
		{"retried failure is ignored", []Job{s(StatusFailed, retried), s(StatusSuccess)}, StatusSuccess, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings := Status(tt.jobs)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantWarnings, warnings)
		})
	}
}

func TestFinished(t *testing.T) {
	for _, st := range []string{StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped} {
		require.True(t, Finished(st), st)
	}
	for _, st := range []string{StatusCreated, StatusWaitingForResource, StatusPreparing, StatusWaitingForCallback,
		StatusPending, StatusRunning, StatusCanceling, StatusManual, StatusScheduled, ""} {
		require.False(t, Finished(st), st)
	}
}
