package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRules(t *testing.T) {
	const cfgSrc = `
variables:
  GLOBAL: g
deploy:
  stage: deploy
  script: ./deploy
  variables:
    TARGET: staging
    KEEP: job
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
      when: never
    - if: $CI_COMMIT_TAG =~ /^v\d+/
      variables:
        TARGET: production
    - if: $CI_PIPELINE_SOURCE == "trigger" && $MANUAL
      when: manual
    - if: $CI_PIPELINE_SOURCE == "trigger"
      when: delayed
      start_in: 10 minutes
    - if: $CI_COMMIT_BRANCH == "main"
      allow_failure: true
build:
  stage: build
  script: make
`
	cfg := mustParse(t, cfgSrc)
	tests := []struct {
		name         string
		ctx          Context
		included     bool
		when         string
		startIn      string
		allowFailure bool
		target       string
	}{
		{"never wins first", Context{Source: "schedule", Ref: "v1", Tag: true}, false, "", "", false, ""},
		{"tag rule sets variables", tag("push", "v1.2", nil), true, "on_success", "", false, "production"},
		{"manual from rule is not optional", branch("trigger", "dev", map[string]string{"MANUAL": "1"}), true, "manual", "", false, "staging"},
		{"delayed", branch("trigger", "dev", nil), true, "delayed", "10 minutes", false, "staging"},
		{"rule allow_failure", branch("push", "main", nil), true, "on_success", "", true, "staging"},
		{"no rule matches", branch("push", "dev", nil), false, "", "", false, ""},
		{"predefined variables from the caller win", branch("push", "dev", map[string]string{"CI_COMMIT_BRANCH": "main"}), true, "on_success", "", true, "staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := cfg.Evaluate(tt.ctx)
			require.NoError(t, err)
			if !tt.included {
				require.Equal(t, []string{"build"}, names(plan))
				return
			}
			j := jobByName(t, plan, "deploy")
			require.Equal(t, tt.when, j.When)
			require.Equal(t, tt.startIn, j.StartIn)
			require.Equal(t, tt.allowFailure, j.AllowFailure)
			require.Equal(t, tt.target, j.Variables["TARGET"])
			require.Equal(t, "job", j.Variables["KEEP"])
			require.NotContains(t, j.Variables, "GLOBAL")
			require.Equal(t, map[string]string{"GLOBAL": "g"}, plan.Variables)
		})
	}
}

func TestRulesDefaults(t *testing.T) {
	tests := []struct {
		name         string
		job          string
		included     bool
		when         string
		allowFailure bool
	}{
		{"rule without clauses always matches", "  rules:\n    - when: always\n", true, "always", false},
		{"empty rule hash matches", "  rules:\n    - {}\n", true, "on_success", false},
		{"changes counts as matched", "  rules:\n    - changes: [src/**/*]\n", true, "on_success", false},
		{"exists counts as matched", "  rules:\n    - exists: [Dockerfile]\n", true, "on_success", false},
		{"job-level when is the rule default", "  when: manual\n  rules:\n    - if: $CI_COMMIT_BRANCH\n", true, "manual", true},
		{"rule when overrides job when", "  when: manual\n  rules:\n    - if: $CI_COMMIT_BRANCH\n      when: on_failure\n", true, "on_failure", true},
		{"job allow_failure kept", "  allow_failure: true\n  rules:\n    - when: manual\n", true, "manual", true},
		{"rule allow_failure overrides", "  when: manual\n  rules:\n    - allow_failure: false\n", true, "manual", false},
		{"empty rules list excludes", "  rules: []\n", false, "", false},
		{"job variables are visible to rules", "  variables:\n    RUN: 'yes'\n  rules:\n    - if: $RUN == \"yes\"\n", true, "on_success", false},
		{"global variables are visible to rules", "  rules:\n    - if: $GLOBAL == \"g\"\n", true, "on_success", false},
		{"rule variables are not visible to their own if", "  rules:\n    - if: $R\n      variables: {R: x}\n", false, "", false},
		{"inherit variables false hides globals", "  inherit:\n    variables: false\n  rules:\n    - if: $GLOBAL\n", false, "", false},
		{"inherit variables list", "  inherit:\n    variables: [GLOBAL]\n  rules:\n    - if: $GLOBAL\n", true, "on_success", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, "variables:\n  GLOBAL: g\njob:\n  script: x\n"+tt.job+"other:\n  script: y\n")
			plan, err := cfg.Evaluate(branch("push", "main", nil))
			require.NoError(t, err)
			if !tt.included {
				require.Equal(t, []string{"other"}, names(plan))
				return
			}
			j := jobByName(t, plan, "job")
			require.Equal(t, tt.when, j.When)
			require.Equal(t, tt.allowFailure, j.AllowFailure)
		})
	}
}

func TestManualAllowFailure(t *testing.T) {
	cfg := mustParse(t, `
optional:
  script: x
  when: manual
blocking:
  script: x
  when: manual
  allow_failure: false
exit_codes:
  script: x
  allow_failure:
    exit_codes: [137, 255]
single_code:
  script: x
  allow_failure:
    exit_codes: 1
`)
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	require.True(t, jobByName(t, plan, "optional").AllowFailure)
	require.False(t, jobByName(t, plan, "blocking").AllowFailure)
	ec := jobByName(t, plan, "exit_codes")
	require.False(t, ec.AllowFailure)
	require.Equal(t, []int{137, 255}, ec.AllowFailureExitCodes)
	require.Equal(t, []int{1}, jobByName(t, plan, "single_code").AllowFailureExitCodes)
}

func TestWorkflowRules(t *testing.T) {
	const src = `
variables:
  DEPLOY_TARGET: default
  OTHER: o
workflow:
  name: 'Pipeline for $CI_COMMIT_REF_NAME ($DEPLOY_TARGET)'
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
      when: never
    - if: $CI_COMMIT_TAG
      variables:
        DEPLOY_TARGET: production
    - if: $CI_PIPELINE_SOURCE == "trigger" || $CI_PIPELINE_SOURCE == "pipeline"
      when: always
job:
  script: x
  variables:
    JOB_TARGET: $DEPLOY_TARGET
  rules:
    - if: $DEPLOY_TARGET == "production"
      variables:
        IS_PROD: "true"
    - when: on_success
`
	cfg := mustParse(t, src)
	tests := []struct {
		name      string
		ctx       Context
		err       error
		variables map[string]string
		isProd    bool
		title     string
	}{
		{"never", branch("schedule", "main", nil), ErrWorkflowPrevented, nil, false, ""},
		{"no rule matches", branch("push", "main", nil), ErrWorkflowPrevented, nil, false, ""},
		{"tag sets variables", tag("push", "v1", nil), nil, map[string]string{"DEPLOY_TARGET": "production", "OTHER": "o"}, true, "Pipeline for v1 (production)"},
		{"trigger", branch("trigger", "main", nil), nil, map[string]string{"DEPLOY_TARGET": "default", "OTHER": "o"}, false, "Pipeline for main (default)"},
		{"multi-project", branch("pipeline", "main", nil), nil, map[string]string{"DEPLOY_TARGET": "default", "OTHER": "o"}, false, "Pipeline for main (default)"},
		{"trigger variable beats workflow variable", Context{Source: "push", Ref: "v1", Tag: true, Variables: map[string]string{"DEPLOY_TARGET": "qa"}}, nil, map[string]string{"DEPLOY_TARGET": "production", "OTHER": "o"}, false, "Pipeline for v1 (qa)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := cfg.Evaluate(tt.ctx)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, plan)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.variables, plan.Variables)
			require.Equal(t, tt.title, plan.Name)
			j := jobByName(t, plan, "job")
			require.Equal(t, tt.isProd, j.Variables["IS_PROD"] == "true")
		})
	}
}

func TestWorkflowWithoutRulesAlwaysRuns(t *testing.T) {
	cfg := mustParse(t, "workflow:\n  name: x\njob:\n  script: x\n")
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	require.Equal(t, "x", plan.Name)
}
