package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtendsAnchorsAndDefaults(t *testing.T) {
	cfg := mustParse(t, `
default:
  before_script: [echo default-before]
  after_script: echo default-after
  artifacts:
    paths: [out/]
    expire_in: 1 week

.vars: &vars
  A: anchor
  B: anchor

.base:
  stage: build
  variables:
    BASE: base
    SHARED: base
  script: [echo base]
  rules:
    - if: $CI_COMMIT_BRANCH

.deploy:
  extends: .base
  stage: deploy
  variables:
    SHARED: deploy
  artifacts:
    paths: [dist/]
    when: always
    name: bundle

.setup:
  script:
    - echo setup-1
    - echo setup-2

job:
  extends: [.deploy]
  variables:
    <<: *vars
    B: own
    N: 3
    F: 1.5
    T: true
    D:
      value: described
      description: shown in the UI
  script:
    - !reference [.setup, script]
    - echo job
    - [nested, [deeper]]

plain:
  inherit:
    default: [after_script]
  script: echo plain

anchored: &anchored
  script: echo anchored
  when: manual

copy:
  <<: *anchored
  when: always
`)
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	require.Equal(t, []string{"plain", "anchored", "copy", "job"}, names(plan))

	j := jobByName(t, plan, "job")
	require.Equal(t, "deploy", j.Stage)
	require.Equal(t, []string{"echo setup-1", "echo setup-2", "echo job", "nested", "deeper"}, j.Script)
	require.Equal(t, []string{"echo default-before"}, j.BeforeScript)
	require.Equal(t, []string{"echo default-after"}, j.AfterScript)
	require.Equal(t, map[string]string{
		"BASE": "base", "SHARED": "deploy", "A": "anchor", "B": "own",
		"N": "3", "F": "1.5", "T": "true", "D": "described",
	}, j.Variables)
	require.Equal(t, &Artifacts{Paths: []string{"dist/"}, When: "always", Name: "bundle"}, j.Artifacts)

	p := jobByName(t, plan, "plain")
	require.Nil(t, p.BeforeScript)
	require.Equal(t, []string{"echo default-after"}, p.AfterScript)
	require.Nil(t, p.Artifacts)
	require.Equal(t, "test", p.Stage)

	require.Equal(t, "manual", jobByName(t, plan, "anchored").When)
	c := jobByName(t, plan, "copy")
	require.Equal(t, "always", c.When)
	require.Equal(t, []string{"echo anchored"}, c.Script)

	// Extended rules come along: .base only runs for branches.
	plan, err = cfg.Evaluate(tag("push", "v1", nil))
	require.NoError(t, err)
	require.NotContains(t, names(plan), "job")
}

func TestExtendsMultipleBasesLaterWins(t *testing.T) {
	cfg := mustParse(t, `
.a:
  stage: build
  variables: {X: a, A: a}
  script: [a]
.b:
  variables: {X: b, B: b}
  script: [b]
job:
  extends: [.a, .b]
  variables: {J: j}
`)
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	j := jobByName(t, plan, "job")
	require.Equal(t, "build", j.Stage)
	require.Equal(t, []string{"b"}, j.Script)
	require.Equal(t, map[string]string{"X": "b", "A": "a", "B": "b", "J": "j"}, j.Variables)
}

func TestDeprecatedGlobals(t *testing.T) {
	cfg := mustParse(t, "image: ruby\nbefore_script: [bundle]\nafter_script: [cleanup]\njob:\n  script: rspec\n")
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	j := jobByName(t, plan, "job")
	require.Equal(t, []string{"bundle"}, j.BeforeScript)
	require.Equal(t, []string{"cleanup"}, j.AfterScript)
}

func TestSpecHeaderWithoutInputs(t *testing.T) {
	cfg := mustParse(t, "spec:\n  description: x\n---\njob:\n  script: x\n")
	require.Equal(t, []string{"job"}, cfg.JobNames())
}
