package pipestate

import (
	"cmp"
	"slices"
)

// Advance returns the transitions GitLab's atomic processing makes for the
// pipeline's created jobs, so the dispatcher can release jobs after every job
// status change with one call and one write.
//
// Advance iterates to a fixed point itself: a job skipped or made manual
// (allow_failure) in stage 1 releases stage 2 within the same call, so the
// caller never needs to call it twice in a row. It returns one transition per
// job that moves, in the order of jobs, and nil when nothing moves.
//
// A created job moves once its prerequisites are complete, that is their
// composite status (see [Status]) is success, failed, canceled or skipped:
//
//   - without needs, the prerequisites are all jobs of all earlier stages;
//     a manual job with allow_failure counts as done, a manual job without
//     it or a scheduled job blocks;
//   - with needs, they are the named jobs of the pipeline, and a skipped
//     need or an allow_failure manual need counts as skipped; `needs: []`
//     and needs on absent jobs start at once.
//
// It then becomes, per Ci::ProcessBuildService:
//
//   - on_success, manual and delayed jobs: pending, manual or scheduled
//     respectively when the prerequisites are success (or skipped, for jobs
//     without needs), and skipped otherwise;
//   - on_failure jobs: pending when the prerequisites failed, else skipped;
//   - always jobs: pending when they are success, failed or skipped, and
//     skipped when they are canceled.
//
// Jobs are visited stage by stage and, inside a stage, needed jobs before the
// jobs that need them, as GitLab does. Needs on later stages, which GitLab's
// configuration rejects, still settle because Advance repeats its pass while
// such a need could have changed the outcome. For valid pipelines Advance
// costs one sort and one pass over jobs and needs: O(n log n + needs).
func Advance(jobs []Job) []Transition {
	p := newProcessing(jobs)
	// Without needs on later jobs one pass settles everything; otherwise a
	// pass that moved a job may have completed a need visited earlier.
	for moved := p.pass(); moved && p.backward; {
		moved = p.pass()
	}
	var out []Transition
	for i := range jobs {
		if !jobs[i].Retried && p.status[i] != jobs[i].Status {
			out = append(out, Transition{JobID: jobs[i].ID, To: p.status[i]})
		}
	}
	return out
}

// processing is the working state of one Advance call, GitLab's
// StatusCollection: the current status of every job, the pass order, and
// each job's needs resolved to indexes into jobs.
type processing struct {
	jobs   []Job
	status []string
	// stages holds, per stage in ascending order, the indexes of its
	// non-retried jobs, needed jobs first.
	stages [][]int
	needs  [][]int
	// backward is set when a job needs a job visited after it, which only
	// an invalid configuration produces; a single pass then may not settle.
	backward bool
}

func newProcessing(jobs []Job) *processing {
	p := &processing{jobs: jobs, status: make([]string, len(jobs)), needs: make([][]int, len(jobs))}
	idx := make([]int, 0, len(jobs))
	for i := range jobs {
		p.status[i] = jobs[i].Status
		if !jobs[i].Retried {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(jobs[a].StageIdx, jobs[b].StageIdx), cmp.Compare(jobs[a].ID, jobs[b].ID))
	})
	// GitLab indexes jobs by name over the ordered jobs, so with duplicate
	// names the last one wins.
	byName := make(map[string]int, len(idx))
	for _, i := range idx {
		byName[jobs[i].Name] = i
	}
	for _, i := range idx {
		for _, name := range jobs[i].Needs {
			if n, ok := byName[name]; ok {
				p.needs[i] = append(p.needs[i], n)
			}
		}
	}
	p.order(idx)
	return p
}

// order groups idx (sorted by stage and ID) into stages and sorts each stage
// so that a job comes after the same-stage jobs it needs, like GitLab's
// TSort over the stage's needs. It also detects needs on later jobs.
func (p *processing) order(idx []int) {
	mark := make([]uint8, len(p.jobs)) // 0 unseen, 1 visiting, 2 placed
	pos := make([]int, len(p.jobs))
	placed := 0
	var visit func(i int, out *[]int)
	visit = func(i int, out *[]int) {
		mark[i] = 1
		for _, n := range p.needs[i] {
			// A cycle (rejected by GitLab's configuration) is broken by
			// not following a need already being visited.
			if mark[n] == 0 && p.jobs[n].StageIdx == p.jobs[i].StageIdx {
				visit(n, out)
			}
		}
		mark[i] = 2
		pos[i] = placed
		placed++
		*out = append(*out, i)
	}
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && p.jobs[idx[end]].StageIdx == p.jobs[idx[start]].StageIdx {
			end++
		}
		stage := make([]int, 0, end-start)
		for _, i := range idx[start:end] {
			if mark[i] == 0 {
				visit(i, &stage)
			}
		}
		p.stages = append(p.stages, stage)
		start = end
	}
	for _, i := range idx {
		for _, n := range p.needs[i] {
			if pos[n] > pos[i] {
				p.backward = true
			}
		}
	}
}

// pass visits every created job once, in GitLab's order, and reports whether
// any job moved.
func (p *processing) pass() bool {
	changed := false
	var prior composite // every job of every stage visited so far
	for _, stage := range p.stages {
		priorStatus := prior.orSuccess(false)
		for _, i := range stage {
			if p.status[i] != StatusCreated {
				continue
			}
			prev := priorStatus
			if p.jobs[i].dag() {
				var c composite
				for _, n := range p.needs[i] {
					c.add(p.status[n], p.jobs[n].AllowFailure)
				}
				prev = c.orSuccess(true)
			}
			if !Finished(prev) {
				continue
			}
			p.status[i] = next(&p.jobs[i], prev)
			changed = true
		}
		for _, i := range stage {
			prior.add(p.status[i], p.jobs[i].AllowFailure)
		}
	}
	return changed
}

// next is Ci::ProcessBuildService: the status a created job takes once the
// composite status of its prerequisites, prev, is complete.
func next(j *Job, prev string) string {
	var run bool
	switch j.When {
	case "", WhenOnSuccess, WhenManual, WhenDelayed:
		run = prev == StatusSuccess || (prev == StatusSkipped && !j.dag())
	case WhenOnFailure:
		run = prev == StatusFailed
	case WhenAlways:
		run = prev == StatusSuccess || prev == StatusFailed || prev == StatusSkipped
	}
	switch {
	case !run:
		return StatusSkipped
	case j.When == WhenDelayed:
		return StatusScheduled
	case j.When == WhenManual:
		return StatusManual
	default:
		return StatusPending
	}
}
