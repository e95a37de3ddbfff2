package pipestate

// Builders that keep the test tables readable: j(1, "build", 0, "created",
// when(WhenManual), allowFailure) reads like the job it describes.

type opt func(*Job)

func j(id int64, name string, stage int, status string, opts ...opt) Job {
	job := Job{ID: id, Name: name, StageIdx: stage, Status: status, When: WhenOnSuccess}
	for _, o := range opts {
		o(&job)
	}
	return job
}

func when(w string) opt { return func(j *Job) { j.When = w } }

// needs sets Needs; needs() gives the non-nil empty list of `needs: []`.
func needs(names ...string) opt {
	return func(j *Job) {
		if names == nil {
			names = []string{}
		}
		j.Needs = names
	}
}

func allowFailure(j *Job) { j.AllowFailure = true }

func retried(j *Job) { j.Retried = true }

// apply returns a copy of jobs with the transitions applied, as the
// dispatcher would write them back.
func apply(jobs []Job, ts []Transition) []Job {
	out := append([]Job(nil), jobs...)
	for _, t := range ts {
		for i := range out {
			if out[i].ID == t.JobID && !out[i].Retried {
				out[i].Status = t.To
			}
		}
	}
	return out
}

// set returns a copy of jobs with the given jobs moved to status, as a
// runner reporting back would.
func set(jobs []Job, status string, ids ...int64) []Job {
	ts := make([]Transition, 0, len(ids))
	for _, id := range ids {
		ts = append(ts, Transition{JobID: id, To: status})
	}
	return apply(jobs, ts)
}

func tr(id int64, to string) Transition { return Transition{JobID: id, To: to} }
