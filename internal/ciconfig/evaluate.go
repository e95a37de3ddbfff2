package ciconfig

import (
	"fmt"
	"maps"
	"slices"
)

// Evaluate applies workflow:rules, then each job's rules or only/except, and
// returns the plan. It returns ErrWorkflowPrevented when workflow:rules reject
// the pipeline, ErrNoJobs when no job is left (or only .pre/.post jobs are),
// and a *ConfigError when a job needs a job that is not in this pipeline or is
// in a later stage.
//
// Evaluate does no parsing or reflection; it is safe to call concurrently.
func (c *Config) Evaluate(ctx Context) (*Plan, error) {
	pipeline := scope{ctx: &ctx, global: c.variables}
	var workflowVars map[string]string
	if c.workflow != nil {
		r := firstMatch(c.workflow, &pipeline)
		if r == nil || r.when == "never" {
			return nil, ErrWorkflowPrevented
		}
		workflowVars = r.variables
		pipeline.workflow = workflowVars
	}

	plan := &Plan{Variables: make(map[string]string, len(c.variables)+len(workflowVars))}
	maps.Copy(plan.Variables, c.variables)
	maps.Copy(plan.Variables, workflowVars)
	if c.workflowName != "" {
		plan.Name = expandVariables(c.workflowName, &pipeline)
	}

	plan.Jobs = make([]Job, 0, len(c.jobs))
	var needs [][]need // parallel to plan.Jobs, only when some job has needs
	for _, j := range c.jobs {
		s := scope{ctx: &ctx, job: j.variables, workflow: workflowVars, global: c.variables, inherit: j.inherit}
		d, ok := j.decide(&ctx, &s)
		if !ok {
			continue
		}
		s.rule = d.ruleVariables
		plan.Jobs = append(plan.Jobs, j.build(d, &s))
		if c.hasNeeds {
			needs = append(needs, d.needs)
		}
	}
	if c.hasNeeds {
		if err := resolveNeeds(plan.Jobs, needs); err != nil {
			return nil, err
		}
	}
	if !hasRunnableJob(plan.Jobs, len(c.stages)) {
		return nil, ErrNoJobs
	}
	slices.SortStableFunc(plan.Jobs, func(a, b Job) int { return a.StageIndex - b.StageIndex })

	used := make([]bool, len(c.stages))
	for i := range plan.Jobs {
		used[plan.Jobs[i].StageIndex] = true
	}
	for i, name := range c.stages {
		if used[i] {
			plan.Stages = append(plan.Stages, name)
		}
	}
	return plan, nil
}

// decision is what rules or only/except decided for one job.
type decision struct {
	when          string
	allowFailure  bool
	startIn       string
	ruleVariables map[string]string
	needs         []need
}

// decide reports whether the job is in the pipeline and with which
// attributes. With rules, the first matching rule's `when` wins, falling back
// to the job's `when` and then on_success. allow_failure comes from the rule,
// else from the job, else it is true only for a job-level `when: manual`:
// GitLab does not make jobs that are manual through a rule optional.
func (j *job) decide(ctx *Context, s *scope) (decision, bool) {
	d := decision{when: j.when, needs: j.needs, startIn: j.startIn}
	if d.when == "" {
		d.when = "on_success"
	}
	allowFailure := j.allowFailure
	if j.hasRules {
		r := firstMatch(j.rules, s)
		if r == nil || r.when == "never" {
			return d, false
		}
		if r.when != "" {
			d.when = r.when
		}
		if r.startIn != "" {
			d.startIn = r.startIn
		}
		if r.allowFailure != nil {
			allowFailure = r.allowFailure
		}
		if r.needsSet {
			d.needs = r.needs
		}
		d.ruleVariables = r.variables
	} else {
		if j.only != nil && !j.only.matches(ctx, s) {
			return d, false
		}
		if j.except != nil && j.except.matches(ctx, s) {
			return d, false
		}
	}
	if d.when != "delayed" {
		d.startIn = ""
	}
	if allowFailure != nil {
		d.allowFailure = *allowFailure
	} else {
		d.allowFailure = j.when == "manual"
	}
	return d, true
}

// build produces the caller-owned Job for an included job.
func (j *job) build(d decision, s *scope) Job {
	out := Job{
		Name:                  j.name,
		Stage:                 j.stage,
		StageIndex:            j.stageIndex,
		When:                  d.when,
		StartIn:               d.startIn,
		AllowFailure:          d.allowFailure,
		AllowFailureExitCodes: slices.Clone(j.exitCodes),
		BeforeScript:          slices.Clone(j.beforeScript),
		Script:                slices.Clone(j.script),
		AfterScript:           slices.Clone(j.afterScript),
		Variables:             make(map[string]string, len(j.variables)+len(d.ruleVariables)),
		InheritVariables:      slices.Clone(j.inheritList),
		Artifacts:             j.artifacts.clone(),
	}
	maps.Copy(out.Variables, j.variables)
	maps.Copy(out.Variables, d.ruleVariables)
	if d.needs != nil {
		// Filled in by resolveNeeds, which drops optional needs on absent jobs.
		out.Needs = make([]string, 0, len(d.needs))
	}
	if t := j.trigger; t != nil {
		out.Trigger = &Trigger{
			Project:                  expandVariables(t.project, s),
			Branch:                   expandVariables(t.branch, s),
			Strategy:                 t.strategy,
			ForwardYAMLVariables:     t.forwardYAML,
			ForwardPipelineVariables: t.forwardPipeline,
			Child:                    t.child,
		}
	}
	return out
}

// resolveNeeds checks every need against the jobs actually in the pipeline
// and fills Job.Needs. needs[i] belongs to jobs[i], both in config order.
func resolveNeeds(jobs []Job, needs [][]need) error {
	stageOf := make(map[string]int, len(jobs))
	for i := range jobs {
		stageOf[jobs[i].Name] = jobs[i].StageIndex
	}
	for i := range jobs {
		j := &jobs[i]
		for _, n := range needs[i] {
			stage, ok := stageOf[n.job]
			if !ok {
				if n.optional {
					continue
				}
				return &ConfigError{Msg: fmt.Sprintf("'%s' job needs '%s' job, but '%s' does not exist in the pipeline", j.Name, n.job, n.job)}
			}
			if stage > j.StageIndex {
				return &ConfigError{Msg: fmt.Sprintf("'%s' job needs '%s' job, but '%s' is not in any previous stage", j.Name, n.job, n.job)}
			}
			j.Needs = append(j.Needs, n.job)
		}
	}
	return nil
}

// hasRunnableJob reports whether some job is outside .pre and .post; GitLab
// does not create a pipeline that would only run those.
func hasRunnableJob(jobs []Job, stageCount int) bool {
	for i := range jobs {
		if jobs[i].StageIndex != 0 && jobs[i].StageIndex != stageCount-1 {
			return true
		}
	}
	return false
}
