package ciconfig

// Context is what a pipeline is being created for. Evaluate matches
// only/except keywords against Source, Ref and Tag, and expressions against
// Variables.
type Context struct {
	// Source is the pipeline source as GitLab names it: "trigger",
	// "pipeline", "schedule", "api", "push", "web", "webhook", ...
	Source string
	// Ref is the branch or tag name the pipeline runs for.
	Ref string
	// Tag reports whether Ref is a tag.
	Tag bool
	// Variables are the pipeline (trigger) variables. They override
	// YAML-defined variables of the same name, because trigger variables
	// have the highest precedence in GitLab.
	Variables map[string]string
	// Predefined are the predefined CI/CD variables. They have the lowest
	// precedence: a YAML variable of the same name overrides them, as in
	// GitLab. Variables already holding a name wins over Predefined.
	Predefined map[string]string
}

// Plan is the outcome of Evaluate: what the pipeline will contain. It is a
// fresh value owned by the caller; nothing in it is shared with the Config.
type Plan struct {
	// Name is workflow:name with variables expanded, or "" when not set.
	Name string
	// Stages are the stages that have at least one job, in config order
	// (.pre first, .post last).
	Stages []string
	// Variables are the global `variables:` plus the variables set by the
	// matching workflow rule (which win). Context.Variables are not included.
	Variables map[string]string
	// Jobs are sorted by stage, then by their order in the config.
	Jobs []Job
}

// Job is one job (build) or bridge (trigger job) of the pipeline.
type Job struct {
	Name  string
	Stage string
	// StageIndex indexes the config's full stage list, .pre and .post
	// included, so callers can order stages without the list.
	StageIndex int
	// When is on_success, on_failure, always, manual or delayed.
	When string
	// StartIn is the delay of a `when: delayed` job, as written ("30 minutes").
	StartIn string
	// AllowFailure defaults to true for jobs with a job-level `when: manual`
	// and to false otherwise, including jobs made manual by a rule, as in GitLab.
	AllowFailure bool
	// AllowFailureExitCodes lists the exit codes of
	// `allow_failure: exit_codes`; AllowFailure is false in that case.
	AllowFailureExitCodes []int
	// Needs is nil when the job has no `needs:` (it waits for earlier stages)
	// and empty but non-nil for `needs: []` (it starts at once). Optional needs
	// on jobs absent from the pipeline are dropped.
	Needs        []string
	BeforeScript []string
	Script       []string
	AfterScript  []string
	// Variables are the job's `variables:` plus those of the matching rule
	// (the rule wins). Global and workflow variables are in Plan.Variables.
	Variables map[string]string
	// InheritVariables restricts which of Plan.Variables the job receives
	// (`inherit:variables`): nil means all of them, an empty non-nil slice
	// means none.
	InheritVariables []string
	// Trigger is non-nil for a bridge (a job with `trigger:`).
	Trigger *Trigger
	// Artifacts is nil when the job declares none (directly or via default:).
	Artifacts *Artifacts
}

// Trigger describes the downstream pipeline a bridge job creates.
type Trigger struct {
	// Project is the full path of the downstream project, with variables
	// expanded; empty for a child pipeline (`trigger:include`).
	Project string
	// Branch is the downstream ref, with variables expanded; empty means the
	// downstream project's default branch.
	Branch string
	// Strategy is "", "depend" (the bridge mirrors the downstream status) or
	// "mirror".
	Strategy string
	// ForwardYAMLVariables passes the bridge's YAML variables downstream
	// (GitLab's default: true).
	ForwardYAMLVariables bool
	// ForwardPipelineVariables passes this pipeline's trigger/API variables
	// downstream (GitLab's default: false).
	ForwardPipelineVariables bool
	// Child is true for `trigger:include`, a child pipeline built from files
	// of the same project, which this service does not fetch.
	Child bool
}

// Artifacts is a job's `artifacts:` subset that the pipeline records.
type Artifacts struct {
	Paths    []string
	When     string // on_success (default), on_failure or always
	ExpireIn string
	Name     string
}
