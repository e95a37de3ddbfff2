package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The examples of GitLab's trigger documentation (shared/reference) must
// parse and evaluate as the docs describe.
func TestReferenceExamples(t *testing.T) {
	const threeStages = `
stages:
- test
- build
- package

run_tests:
  stage: test
  script:
  - make test

build_package:
  stage: build
  script:
  - make build

upload_package:
  stage: package
  script:
  - if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi
`
	const buildDocs = `
build_docs:
  stage: deploy
  script:
  - "curl --request POST --form token=TOKEN --form ref=master https://gitlab.example.com/api/v4/projects/9/trigger/pipeline"
  only:
  - tags
`
	const buildDocsJobToken = `
build_docs:
  stage: deploy
  script:
  - curl --request POST --form "token=$CI_JOB_TOKEN" --form ref=master https://gitlab.example.com/api/v4/projects/9/trigger/pipeline
  only:
  - tags
`
	const buildSubmodule = `
build_submodule:
  image: debian
  stage: test
  script:
  - apt update && apt install -y unzip
  - curl --location --output artifacts.zip "https://gitlab.example.com/api/v4/projects/1/jobs/artifacts/master/download?job=test&job_token=$CI_JOB_TOKEN"
  - unzip artifacts.zip
  only:
  - tags
`
	t.Run("three stages with UPLOAD_TO_S3", func(t *testing.T) {
		cfg := mustParse(t, threeStages)
		plan, err := cfg.Evaluate(branch("trigger", "master", map[string]string{"UPLOAD_TO_S3": "true"}))
		require.NoError(t, err)
		require.Equal(t, []string{"test", "build", "package"}, plan.Stages)
		require.Equal(t, []string{"run_tests", "build_package", "upload_package"}, names(plan))
		up := jobByName(t, plan, "upload_package")
		require.Equal(t, "package", up.Stage)
		require.Equal(t, 3, up.StageIndex)
		require.Equal(t, "on_success", up.When)
		require.False(t, up.AllowFailure)
		require.Nil(t, up.Needs)
		require.Equal(t, []string{`if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi`}, up.Script)
		require.Empty(t, plan.Variables)
	})
	t.Run("three stages without variables", func(t *testing.T) {
		plan, err := mustParse(t, threeStages).Evaluate(branch("push", "master", nil))
		require.NoError(t, err)
		require.Len(t, plan.Jobs, 3)
	})
	for name, src := range map[string]string{"build_docs": buildDocs, "build_docs job token": buildDocsJobToken, "build_submodule": buildSubmodule} {
		t.Run(name+" runs for tags only", func(t *testing.T) {
			cfg := mustParse(t, src)
			_, err := cfg.Evaluate(branch("push", "master", nil))
			require.ErrorIs(t, err, ErrNoJobs)
			plan, err := cfg.Evaluate(tag("push", "v1.0.0", nil))
			require.NoError(t, err)
			require.Len(t, plan.Jobs, 1)
		})
	}
	t.Run("build_docs next to other jobs", func(t *testing.T) {
		cfg := mustParse(t, threeStages+`
build_docs:
  stage: package
  script:
  - "curl --request POST --form token=TOKEN --form ref=master https://gitlab.example.com/api/v4/projects/9/trigger/pipeline"
  only:
  - tags
`)
		plan, err := cfg.Evaluate(branch("trigger", "master", nil))
		require.NoError(t, err)
		require.Equal(t, []string{"run_tests", "build_package", "upload_package"}, names(plan))
		plan, err = cfg.Evaluate(tag("trigger", "v2", nil))
		require.NoError(t, err)
		require.Equal(t, []string{"run_tests", "build_package", "upload_package", "build_docs"}, names(plan))
	})
}
