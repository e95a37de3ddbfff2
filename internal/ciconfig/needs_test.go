package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNeeds(t *testing.T) {
	const base = `
build:
  stage: build
  script: x
lint:
  stage: build
  script: x
  only: [tags]
`
	tests := []struct {
		name  string
		job   string
		want  []string
		isNil bool
		msg   string
	}{
		{"no needs keyword", "", nil, true, ""},
		{"empty needs", "  needs: []\n", []string{}, false, ""},
		{"strings", "  needs: [build]\n", []string{"build"}, false, ""},
		{"hash form", "  needs:\n    - job: build\n      artifacts: false\n", []string{"build"}, false, ""},
		{"cross-project needs are skipped", "  needs:\n    - project: a/b\n      job: x\n      ref: main\n      artifacts: true\n    - build\n", []string{"build"}, false, ""},
		{"optional need on an absent job is dropped", "  needs:\n    - job: lint\n      optional: true\n    - build\n", []string{"build"}, false, ""},
		{"need on an absent job", "  needs: [lint]\n", nil, false, "'test' job needs 'lint' job, but 'lint' does not exist in the pipeline"},
		{"need on an undefined job", "  needs: [nope]\n", nil, false, "'test' job needs 'nope' job, but 'nope' does not exist in the pipeline"},
		{"need on a later stage", "  needs: [deploy]\n", nil, false, "'test' job needs 'deploy' job, but 'deploy' is not in any previous stage"},
		{"optional need on a later stage", "  needs:\n    - job: deploy\n      optional: true\n", nil, false, "'test' job needs 'deploy' job, but 'deploy' is not in any previous stage"},
		{"same stage", "  needs: [unit]\n", []string{"unit"}, false, ""},
		{"rule needs replace job needs", "  needs: [build]\n  rules:\n    - needs: [unit]\n", []string{"unit"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, base+"test:\n  script: x\n"+tt.job+"unit:\n  script: x\ndeploy:\n  stage: deploy\n  script: x\n")
			plan, err := cfg.Evaluate(branch("push", "main", nil))
			if tt.msg != "" {
				requireConfigError(t, err, tt.msg)
				return
			}
			require.NoError(t, err)
			j := jobByName(t, plan, "test")
			if tt.isNil {
				require.Nil(t, j.Needs)
				return
			}
			require.NotNil(t, j.Needs)
			require.Equal(t, tt.want, j.Needs)
		})
	}
}
