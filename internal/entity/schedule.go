package entity

import (
	"github.com/triggerd/triggerd/internal/store"
)

// PipelineSchedule is GitLab's PipelineSchedule entity, the one of lists.
type PipelineSchedule struct {
	ID           int64      `json:"id"`
	Description  string     `json:"description"`
	Ref          string     `json:"ref"`
	Cron         string     `json:"cron"`
	CronTimezone string     `json:"cron_timezone"`
	NextRunAt    Time       `json:"next_run_at"`
	Active       bool       `json:"active"`
	CreatedAt    Time       `json:"created_at"`
	UpdatedAt    Time       `json:"updated_at"`
	Owner        *UserBasic `json:"owner"`
}

// PipelineScheduleDetails is GitLab's PipelineScheduleDetails entity: one
// schedule with its last pipeline and, for those who may read them, its
// variables (nil leaves the key out, as GitLab does for other readers).
type PipelineScheduleDetails struct {
	PipelineSchedule
	LastPipeline *PipelineBasic         `json:"last_pipeline"`
	Variables    *[]PipelineScheduleVar `json:"variables,omitempty"`
	// LastError says why the schedule's last run created nothing (its
	// owner lost access, its ref is gone); absent after a run that worked.
	// GitLab has no such field; clients ignore it.
	LastError *string `json:"last_error,omitempty"`
}

// PipelineScheduleVar is GitLab's Ci::Variable entity as a schedule's
// variable shows it: schedule variables are never raw-expanded here, so raw
// is false.
type PipelineScheduleVar struct {
	VariableType string `json:"variable_type"`
	Key          string `json:"key"`
	Value        string `json:"value"`
	Raw          bool   `json:"raw"`
}

// NewPipelineSchedule renders a schedule for a list.
func NewPipelineSchedule(base string, s store.Schedule) PipelineSchedule {
	return PipelineSchedule{
		ID: s.ID, Description: s.Description, Ref: s.Ref, Cron: s.Cron, CronTimezone: s.CronTimezone,
		NextRunAt: TimeOf(s.NextRunAt), Active: s.Active, CreatedAt: TimeOf(s.CreatedAt), UpdatedAt: TimeOf(s.UpdatedAt),
		Owner: userBasicPtr(base, s.OwnerID, s.OwnerUsername, s.OwnerName, s.OwnerState),
	}
}

// NewPipelineScheduleDetails renders one schedule. last is its newest
// pipeline or nil; the variables are shown only when showVars is set.
func NewPipelineScheduleDetails(base string, s store.Schedule, last *store.Pipeline, vars []store.Variable, showVars bool) PipelineScheduleDetails {
	d := PipelineScheduleDetails{PipelineSchedule: NewPipelineSchedule(base, s), LastError: s.LastError}
	if last != nil {
		pb := NewPipelineBasic(base, *last)
		d.LastPipeline = &pb
	}
	if showVars {
		vs := make([]PipelineScheduleVar, len(vars))
		for i, v := range vars {
			vs[i] = NewPipelineScheduleVar(v)
		}
		d.Variables = &vs
	}
	return d
}

// NewPipelineScheduleVar renders a schedule variable.
func NewPipelineScheduleVar(v store.Variable) PipelineScheduleVar {
	return PipelineScheduleVar{VariableType: v.VariableType, Key: v.Key, Value: v.Value, Raw: false}
}
