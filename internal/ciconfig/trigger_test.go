package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTriggerJobs(t *testing.T) {
	cfg := mustParse(t, `
variables:
  DOWNSTREAM: group/downstream
build:
  stage: build
  script: make
simple:
  stage: deploy
  trigger: my/project
depend:
  stage: deploy
  variables:
    TARGET_BRANCH: stable
  trigger:
    project: $DOWNSTREAM
    branch: ${TARGET_BRANCH}-$SUFFIX
    strategy: depend
    forward:
      yaml_variables: false
      pipeline_variables: true
mirror:
  stage: deploy
  when: manual
  trigger:
    project: a/b
    strategy: mirror
ruled:
  stage: deploy
  trigger:
    project: x/$TARGET
  rules:
    - if: $CI_COMMIT_TAG
      variables:
        TARGET: release
    - variables:
        TARGET: nightly
child:
  stage: deploy
  trigger:
    include: child.yml
`)
	plan, err := cfg.Evaluate(branch("trigger", "main", map[string]string{"SUFFIX": "x"}))
	require.NoError(t, err)

	simple := jobByName(t, plan, "simple")
	require.Equal(t, &Trigger{Project: "my/project", ForwardYAMLVariables: true}, simple.Trigger)
	require.Nil(t, simple.Script)

	depend := jobByName(t, plan, "depend")
	require.Equal(t, &Trigger{Project: "group/downstream", Branch: "stable-x", Strategy: "depend", ForwardPipelineVariables: true}, depend.Trigger)

	mirror := jobByName(t, plan, "mirror")
	require.Equal(t, "mirror", mirror.Trigger.Strategy)
	require.Equal(t, "manual", mirror.When)
	require.True(t, mirror.AllowFailure)

	require.Equal(t, "x/nightly", jobByName(t, plan, "ruled").Trigger.Project)
	plan, err = cfg.Evaluate(tag("trigger", "v1", nil))
	require.NoError(t, err)
	require.Equal(t, "x/release", jobByName(t, plan, "ruled").Trigger.Project)

	child := jobByName(t, plan, "child")
	require.Equal(t, "", child.Trigger.Project)
	require.True(t, child.Trigger.Child)
}
