package pipestate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAdvance(t *testing.T) {
	const (
		created  = StatusCreated
		pending  = StatusPending
		running  = StatusRunning
		success  = StatusSuccess
		failed   = StatusFailed
		canceled = StatusCanceled
		skipped  = StatusSkipped
		manual   = StatusManual
	)
	tests := []struct {
		name string
		jobs []Job
		want []Transition
	}{
		{
			name: "first stage is released, later stages wait",
			jobs: []Job{j(1, "a", 0, created), j(2, "b", 0, created), j(3, "c", 1, created)},
			want: []Transition{tr(1, pending), tr(2, pending)},
		},
		{
			name: "a stage waits while an earlier job runs",
			jobs: []Job{j(1, "a", 0, success), j(2, "b", 0, running), j(3, "c", 1, created)},
		},
		{
			name: "nothing created, nothing to do",
			jobs: []Job{j(1, "a", 0, running), j(2, "b", 1, pending), j(3, "c", 2, success)},
		},
		{
			name: "empty When is on_success",
			jobs: []Job{j(1, "a", 0, created, when(""))},
			want: []Transition{tr(1, pending)},
		},
		{
			name: "unknown When is skipped",
			jobs: []Job{j(1, "a", 0, created, when("never"))},
			want: []Transition{tr(1, skipped)},
		},
		{
			name: "failure: on_success skipped, on_failure and always pending",
			jobs: []Job{
				j(1, "build", 0, failed),
				j(2, "test", 1, created),
				j(3, "cleanup", 1, created, when(WhenOnFailure)),
				j(4, "report", 1, created, when(WhenAlways)),
				j(5, "deploy", 1, created, when(WhenManual)),
				j(6, "later", 2, created),
			},
			want: []Transition{tr(2, skipped), tr(3, pending), tr(4, pending), tr(5, skipped)},
		},
		{
			name: "on_failure is skipped when nothing failed",
			jobs: []Job{j(1, "build", 0, success), j(2, "cleanup", 1, created, when(WhenOnFailure))},
			want: []Transition{tr(2, skipped)},
		},
		{
			name: "skipped jobs release the next stage in the same call",
			jobs: []Job{
				j(1, "build", 0, failed),
				j(2, "test", 1, created),
				j(3, "notify", 2, created, when(WhenOnFailure)),
				j(4, "report", 2, created, when(WhenAlways)),
				j(5, "deploy", 2, created),
			},
			want: []Transition{tr(2, skipped), tr(3, pending), tr(4, pending), tr(5, skipped)},
		},
		{
			name: "allow_failure failure lets later stages run",
			jobs: []Job{j(1, "lint", 0, failed, allowFailure), j(2, "build", 0, success), j(3, "test", 1, created),
				j(4, "cleanup", 1, created, when(WhenOnFailure))},
			want: []Transition{tr(3, pending), tr(4, skipped)},
		},
		{
			name: "canceled skips on_success, on_failure and always alike",
			jobs: []Job{j(1, "build", 0, canceled), j(2, "test", 1, created),
				j(3, "cleanup", 1, created, when(WhenOnFailure)), j(4, "report", 1, created, when(WhenAlways))},
			want: []Transition{tr(2, skipped), tr(3, skipped), tr(4, skipped)},
		},
		{
			name: "all-skipped earlier stages let on_success and always run",
			jobs: []Job{j(1, "a", 0, skipped), j(2, "b", 1, created), j(3, "c", 1, created, when(WhenAlways)),
				j(4, "d", 1, created, when(WhenOnFailure))},
			want: []Transition{tr(2, pending), tr(3, pending), tr(4, skipped)},
		},
		{
			name: "allow_failure manual job does not block the next stage",
			jobs: []Job{
				j(1, "build", 0, success),
				j(2, "deploy", 1, created, when(WhenManual), allowFailure),
				j(3, "notify", 2, created),
			},
			want: []Transition{tr(2, manual), tr(3, pending)},
		},
		{
			name: "a stage of only allow_failure manual jobs counts as skipped",
			jobs: []Job{
				j(1, "deploy", 0, manual, allowFailure),
				j(2, "notify", 1, created),
				j(3, "rollback", 1, created, when(WhenOnFailure)),
			},
			want: []Transition{tr(2, pending), tr(3, skipped)},
		},
		{
			name: "manual job without allow_failure blocks the next stage",
			jobs: []Job{
				j(1, "build", 0, success),
				j(2, "deploy", 1, created, when(WhenManual)),
				j(3, "notify", 2, created),
				j(4, "report", 2, created, when(WhenAlways)),
			},
			want: []Transition{tr(2, manual)},
		},
		{
			name: "manual job after a failure is skipped",
			jobs: []Job{j(1, "build", 0, failed), j(2, "deploy", 1, created, when(WhenManual))},
			want: []Transition{tr(2, skipped)},
		},
		{
			name: "delayed job is scheduled and blocks the next stage even with allow_failure",
			jobs: []Job{
				j(1, "build", 0, success),
				j(2, "later", 1, created, when(WhenDelayed), allowFailure),
				j(3, "notify", 2, created),
			},
			want: []Transition{tr(2, StatusScheduled)},
		},
		{
			name: "needs release a job while an earlier stage still runs",
			jobs: []Job{
				j(1, "build-a", 0, success),
				j(2, "build-b", 0, running),
				j(3, "test", 1, running),
				j(4, "deploy-a", 2, created, needs("build-a")),
				j(5, "deploy-b", 2, created, needs("build-b")),
				j(6, "report", 2, created),
			},
			want: []Transition{tr(4, pending)},
		},
		{
			name: "needs: [] starts immediately",
			jobs: []Job{j(1, "build", 0, created), j(2, "lint", 2, created, needs()),
				j(3, "cleanup", 2, created, when(WhenOnFailure), needs())},
			want: []Transition{tr(1, pending), tr(2, pending), tr(3, skipped)},
		},
		{
			name: "needs on a job absent from the pipeline are ignored",
			jobs: []Job{j(1, "build", 0, running), j(2, "test", 1, created, needs("optional-gone"))},
			want: []Transition{tr(2, pending)},
		},
		{
			name: "a failed need skips on_success and releases on_failure",
			jobs: []Job{j(1, "build", 0, failed), j(2, "other", 0, running),
				j(3, "test", 1, created, needs("build")),
				j(4, "cleanup", 1, created, when(WhenOnFailure), needs("build")),
				j(5, "report", 1, created, when(WhenAlways), needs("build"))},
			want: []Transition{tr(3, skipped), tr(4, pending), tr(5, pending)},
		},
		{
			name: "a skipped need skips an on_success job but not an always job",
			jobs: []Job{j(1, "build", 0, success), j(2, "docs", 0, skipped),
				j(3, "test", 1, created, needs("build", "docs")),
				j(4, "report", 1, created, when(WhenAlways), needs("build", "docs"))},
			want: []Transition{tr(3, skipped), tr(4, pending)},
		},
		{
			name: "a skipped need decides the job even while another need runs",
			jobs: []Job{j(1, "build", 0, running), j(2, "docs", 0, skipped),
				j(3, "test", 1, created, needs("build", "docs"))},
			want: []Transition{tr(3, skipped)},
		},
		{
			name: "an allow_failure manual need skips the job",
			jobs: []Job{j(1, "approve", 0, manual, allowFailure), j(2, "deploy", 1, created, needs("approve"))},
			want: []Transition{tr(2, skipped)},
		},
		{
			name: "a blocking manual need makes the job wait",
			jobs: []Job{j(1, "approve", 0, manual), j(2, "deploy", 1, created, needs("approve"))},
		},
		{
			name: "an allow_failure failed need counts as success",
			jobs: []Job{j(1, "lint", 0, failed, allowFailure), j(2, "test", 1, created, needs("lint"))},
			want: []Transition{tr(2, pending)},
		},
		{
			name: "same-stage needs are visited needed-first",
			jobs: []Job{
				j(1, "build", 0, failed),
				j(2, "report", 1, created, when(WhenAlways), needs("test")),
				j(3, "test", 1, created),
			},
			want: []Transition{tr(2, pending), tr(3, skipped)},
		},
		{
			name: "retried jobs are ignored",
			jobs: []Job{
				j(1, "build", 0, failed, retried),
				j(2, "build", 0, success),
				j(3, "test", 1, created),
				j(4, "deploy", 1, created, needs("build")),
				j(5, "old", 1, created, retried),
			},
			want: []Transition{tr(3, pending), tr(4, pending)},
		},
		{
			name: "a need on a later stage, invalid in GitLab, still settles",
			jobs: []Job{
				j(1, "report", 0, created, when(WhenAlways), needs("late")),
				j(2, "late", 1, created, when(WhenOnFailure), needs()),
			},
			want: []Transition{tr(1, pending), tr(2, skipped)},
		},
		{
			name: "circular needs, invalid in GitLab, wait forever",
			jobs: []Job{j(1, "a", 0, created, needs("b")), j(2, "b", 0, created, needs("a"))},
		},
		{
			name: "transitions follow the order of jobs, not of stages",
			jobs: []Job{j(3, "c", 1, created), j(1, "a", 0, skipped), j(2, "b", 0, created, when(WhenManual), allowFailure)},
			want: []Transition{tr(3, pending), tr(2, manual)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Advance(tt.jobs)
			require.Equal(t, tt.want, got)
			// A fixed point: applying the answer leaves nothing to do.
			require.Empty(t, Advance(apply(tt.jobs, got)))
		})
	}
}

// pendingIDs runs Advance, applies it and returns the jobs it made pending.
func pendingIDs(t *testing.T, jobs *[]Job) []int64 {
	t.Helper()
	ts := Advance(*jobs)
	*jobs = apply(*jobs, ts)
	var ids []int64
	for _, tr := range ts {
		if tr.To == StatusPending {
			ids = append(ids, tr.JobID)
		}
	}
	return ids
}

func TestAdvanceSequentialStages(t *testing.T) {
	jobs := []Job{
		j(1, "build", 0, StatusCreated), j(2, "compile", 0, StatusCreated),
		j(3, "test", 1, StatusCreated), j(4, "lint", 1, StatusCreated),
		j(5, "deploy", 2, StatusCreated),
	}
	require.Equal(t, []int64{1, 2}, pendingIDs(t, &jobs))
	require.Empty(t, pendingIDs(t, &jobs), "nothing more until stage 0 finishes")

	jobs = set(jobs, StatusRunning, 1, 2)
	jobs = set(jobs, StatusSuccess, 1)
	require.Empty(t, pendingIDs(t, &jobs), "stage 1 waits for all of stage 0")
	status, _ := Status(jobs)
	require.Equal(t, StatusRunning, status)

	jobs = set(jobs, StatusSuccess, 2)
	require.Equal(t, []int64{3, 4}, pendingIDs(t, &jobs))
	jobs = set(jobs, StatusSuccess, 3, 4)
	require.Equal(t, []int64{5}, pendingIDs(t, &jobs))
	jobs = set(jobs, StatusSuccess, 5)
	require.Empty(t, Advance(jobs))

	status, warnings := Status(jobs)
	require.Equal(t, StatusSuccess, status)
	require.False(t, warnings)
}

func TestAdvanceAllowFailureWarnings(t *testing.T) {
	jobs := []Job{j(1, "lint", 0, StatusCreated, allowFailure), j(2, "test", 1, StatusCreated)}
	require.Equal(t, []int64{1}, pendingIDs(t, &jobs))
	jobs = set(jobs, StatusFailed, 1)
	require.Equal(t, []int64{2}, pendingIDs(t, &jobs))
	jobs = set(jobs, StatusSuccess, 2)

	status, warnings := Status(jobs)
	require.Equal(t, StatusSuccess, status)
	require.True(t, warnings)
}

func TestAdvanceManualJobs(t *testing.T) {
	t.Run("allow_failure manual job left unplayed", func(t *testing.T) {
		jobs := []Job{
			j(1, "build", 0, StatusSuccess),
			j(2, "deploy", 1, StatusCreated, when(WhenManual), allowFailure),
			j(3, "notify", 2, StatusCreated),
		}
		require.Equal(t, []int64{3}, pendingIDs(t, &jobs))
		status, _ := Status(jobs)
		require.Equal(t, StatusRunning, status)

		jobs = set(jobs, StatusSuccess, 3)
		status, _ = Status(jobs)
		require.Equal(t, StatusSuccess, status, "GitLab ignores an allow_failure manual job once everything else passed")
	})
	t.Run("blocking manual job", func(t *testing.T) {
		jobs := []Job{
			j(1, "build", 0, StatusSuccess),
			j(2, "deploy", 1, StatusCreated, when(WhenManual)),
			j(3, "notify", 2, StatusCreated),
		}
		require.Empty(t, pendingIDs(t, &jobs))
		require.Equal(t, StatusManual, jobs[1].Status)
		status, _ := Status(jobs)
		require.Equal(t, StatusManual, status)

		// Playing the job (manual → pending → success) releases the next stage.
		jobs = set(jobs, StatusSuccess, 2)
		require.Equal(t, []int64{3}, pendingIDs(t, &jobs))
	})
}

// bigPipeline is stages×width jobs; every other job needs its counterpart in
// the previous stage, the rest wait for whole stages.
func bigPipeline(stages, width int) []Job {
	jobs := make([]Job, 0, stages*width)
	for s := range stages {
		for w := range width {
			job := j(int64(s*width+w+1), fmt.Sprintf("job %d/%d", s, w), s, StatusCreated)
			if s > 0 && w%2 == 0 {
				job.Needs = []string{fmt.Sprintf("job %d/%d", s-1, w)}
			}
			jobs = append(jobs, job)
		}
	}
	return jobs
}

func TestAdvanceLargePipeline(t *testing.T) {
	const stages, width = 10, 60
	jobs := bigPipeline(stages, width)
	require.Len(t, pendingIDs(t, &jobs), width)

	// Finish one DAG chain end to end while every other job of stage 0 runs:
	// only that chain moves.
	for s := range stages {
		id := int64(s*width + 1)
		jobs = set(jobs, StatusSuccess, id)
		ids := pendingIDs(t, &jobs)
		if s < stages-1 {
			require.Equal(t, []int64{id + width}, ids)
		} else {
			require.Empty(t, ids)
		}
	}
}

func BenchmarkAdvance(b *testing.B) {
	jobs := bigPipeline(10, 50)
	jobs = set(jobs, StatusSuccess, 1, 3, 5, 7)
	b.ReportAllocs()
	for b.Loop() {
		Advance(jobs)
	}
}

// TestAdvanceSinglePass checks that valid needs, including needs inside a
// stage on a job with a higher ID, never force a second pass.
func TestAdvanceSinglePass(t *testing.T) {
	p := newProcessing([]Job{
		j(1, "report", 1, StatusCreated, needs("test", "build")),
		j(2, "test", 1, StatusCreated, needs("lint")),
		j(3, "lint", 1, StatusCreated),
		j(4, "build", 0, StatusCreated),
	})
	require.False(t, p.backward)
	require.Equal(t, [][]int{{3}, {2, 1, 0}}, p.stages)

	p = newProcessing([]Job{j(1, "a", 0, StatusCreated, needs("b")), j(2, "b", 1, StatusCreated)})
	require.True(t, p.backward)
}
