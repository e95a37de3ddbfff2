package store

// JobSpec is what a job row keeps of its CI configuration (the jobs.spec
// column): everything a runner or a bridge needs later. Variables are the
// job's YAML variables already resolved (global, then the job's own, which
// win), in that order.
type JobSpec struct {
	BeforeScript          []string       `json:"before_script,omitempty"`
	Script                []string       `json:"script,omitempty"`
	AfterScript           []string       `json:"after_script,omitempty"`
	Needs                 []string       `json:"needs"`
	Variables             []Variable     `json:"variables,omitempty"`
	AllowFailureExitCodes []int          `json:"allow_failure_exit_codes,omitempty"`
	StartIn               string         `json:"start_in,omitempty"`
	Trigger               *TriggerSpec   `json:"trigger,omitempty"`
	Artifacts             *ArtifactsSpec `json:"artifacts,omitempty"`
}

// TriggerSpec is a bridge's downstream.
type TriggerSpec struct {
	Project                  string `json:"project"`
	Branch                   string `json:"branch,omitempty"`
	Strategy                 string `json:"strategy,omitempty"`
	ForwardYAMLVariables     bool   `json:"forward_yaml_variables"`
	ForwardPipelineVariables bool   `json:"forward_pipeline_variables"`
}

// ArtifactsSpec is what a job keeps of its workspace.
type ArtifactsSpec struct {
	Paths    []string `json:"paths"`
	When     string   `json:"when,omitempty"`
	ExpireIn string   `json:"expire_in,omitempty"`
	Name     string   `json:"name,omitempty"`
}
