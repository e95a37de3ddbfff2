package pipestate

// composite is the set of status symbols of a group of jobs, the input of
// GitLab's Gitlab::Ci::Status::Composite. A bit set keeps adding a job and
// evaluating the rules O(1), which lets Advance keep a running composite of
// all earlier stages instead of recomputing it for every job.
type composite uint32

// Symbols of the set. warnings and ignored are the two derived symbols
// GitLab adds: success_with_warnings and ignored.
const (
	symCreated composite = 1 << iota
	symWaitingForResource
	symPreparing
	symWaitingForCallback
	symPending
	symRunning
	symSuccess
	symFailed
	symCanceling
	symCanceled
	symSkipped
	symManual
	symScheduled
	symWarnings
	symIgnored
	// symUnknown stands for a status GitLab would not accept; like any
	// unmatched symbol it makes the composite fall through to "failed".
	symUnknown
)

// symbol reduces a job to its symbol: allow_failure turns failed and
// canceled into warnings (PASSED_WITH_WARNINGS_STATUSES) and manual into
// ignored (IGNORED_STATUSES).
func symbol(status string, allowFailure bool) composite {
	if allowFailure {
		switch status {
		case StatusFailed, StatusCanceled:
			return symWarnings
		case StatusManual:
			return symIgnored
		}
	}
	switch status {
	case StatusCreated:
		return symCreated
	case StatusWaitingForResource:
		return symWaitingForResource
	case StatusPreparing:
		return symPreparing
	case StatusWaitingForCallback:
		return symWaitingForCallback
	case StatusPending:
		return symPending
	case StatusRunning:
		return symRunning
	case StatusSuccess:
		return symSuccess
	case StatusFailed:
		return symFailed
	case StatusCanceling:
		return symCanceling
	case StatusCanceled:
		return symCanceled
	case StatusSkipped:
		return symSkipped
	case StatusManual:
		return symManual
	case StatusScheduled:
		return symScheduled
	default:
		return symUnknown
	}
}

func (c *composite) add(status string, allowFailure bool) {
	*c |= symbol(status, allowFailure)
}

// onlyOf is GitLab's only_of?: the set is not empty and holds nothing but
// the given symbols.
func (c composite) onlyOf(mask composite) bool { return c != 0 && c&^mask == 0 }

func (c composite) anyOf(mask composite) bool { return c&mask != 0 }

func (c composite) warnings() bool { return c&symWarnings != 0 }

// status evaluates GitLab's rules in GitLab's order; the order matters, as
// several rules match the same sets. dag adds the rule used for the needs of
// a DAG job: a need that was skipped or is an ignored manual job makes the
// whole group "skipped". An empty set has no status and returns "".
func (c composite) status(dag bool) string {
	const passive = symWarnings | symIgnored
	switch {
	case c == 0:
		return ""
	case dag && c.anyOf(symSkipped|symIgnored):
		return StatusSkipped
	case c.onlyOf(symSkipped | symIgnored):
		return StatusSkipped
	case c.onlyOf(symSuccess | symSkipped | passive):
		return StatusSuccess
	case c.onlyOf(symCreated | passive):
		return StatusCreated
	case c.onlyOf(symPreparing | passive):
		return StatusPreparing
	case c.onlyOf(symCanceled | symSuccess | symSkipped | passive):
		return StatusCanceled
	case c.onlyOf(symPending | symCreated | symSkipped | passive):
		return StatusPending
	case c.anyOf(symRunning | symPending):
		return StatusRunning
	case c.anyOf(symWaitingForResource):
		return StatusWaitingForResource
	case c.anyOf(symWaitingForCallback):
		return StatusWaitingForCallback
	case c.anyOf(symManual):
		return StatusManual
	case c.anyOf(symScheduled):
		return StatusScheduled
	case c.anyOf(symPreparing):
		return StatusPreparing
	case c.anyOf(symCreated):
		return StatusRunning
	case c.anyOf(symCanceling):
		return StatusCanceling
	default:
		return StatusFailed
	}
}

// orSuccess is the status of a group of prerequisites: GitLab treats an
// empty group (first stage, `needs: []`, needs on absent jobs) as "success".
func (c composite) orSuccess(dag bool) string {
	if s := c.status(dag); s != "" {
		return s
	}
	return StatusSuccess
}
