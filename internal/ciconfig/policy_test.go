package ciconfig

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOnlyExcept(t *testing.T) {
	const tmpl = "job:\n  script: x\n"
	tests := []struct {
		name   string
		policy string
		ctx    Context
		want   bool
	}{
		{"default matches branches", "", branch("push", "main", nil), true},
		{"default matches tags", "", tag("push", "v1", nil), true},
		{"default matches triggers", "", branch("trigger", "main", nil), true},
		{"branches on branch", "  only: [branches]\n", branch("push", "main", nil), true},
		{"branches on tag", "  only: [branches]\n", tag("push", "v1", nil), false},
		{"tags on tag", "  only: [tags]\n", tag("api", "v1", nil), true},
		{"tags on branch", "  only: [tags]\n", branch("api", "main", nil), false},
		{"triggers", "  only: [triggers]\n", branch("trigger", "main", nil), true},
		{"triggers vs api", "  only: [triggers]\n", branch("api", "main", nil), false},
		{"pipelines", "  only: [pipelines]\n", branch("pipeline", "main", nil), true},
		{"pipelines vs trigger", "  only: [pipelines]\n", branch("trigger", "main", nil), false},
		{"schedules", "  only: [schedules]\n", branch("schedule", "main", nil), true},
		{"api", "  only: [api]\n", branch("api", "main", nil), true},
		{"pushes", "  only: [pushes]\n", branch("push", "main", nil), true},
		{"web", "  only: [web]\n", branch("web", "main", nil), true},
		{"external", "  only: [external]\n", branch("external", "main", nil), true},
		{"merge_requests", "  only: [merge_requests]\n", branch("merge_request_event", "main", nil), true},
		{"chat", "  only: [chat]\n", branch("trigger", "main", nil), false},
		{"literal ref", "  only: [main]\n", branch("push", "main", nil), true},
		{"literal ref mismatch", "  only: [main]\n", branch("push", "mainline", nil), false},
		{"literal tag name", "  only: [v1]\n", tag("push", "v1", nil), true},
		{"regexp", "  only: ['/^release-.*$/']\n", branch("push", "release-1", nil), true},
		{"regexp mismatch", "  only: ['/^release-.*$/']\n", branch("push", "main", nil), false},
		{"regexp case-insensitive", "  only: ['/^RELEASE/i']\n", branch("push", "release-1", nil), true},
		{"any of several", "  only: [tags, triggers]\n", branch("trigger", "main", nil), true},
		{"project qualifier matches", "  only: [branches@group/app]\n", branch("push", "main", map[string]string{"CI_PROJECT_PATH": "group/app"}), true},
		{"project qualifier mismatch", "  only: [branches@group/app]\n", branch("push", "main", map[string]string{"CI_PROJECT_PATH": "fork/app"}), false},
		{"project qualifier unknown project", "  only: [main@group/app]\n", branch("push", "main", nil), true},
		{"string form", "  only: tags\n", tag("push", "v1", nil), true},
		{"except tags", "  except: [tags]\n", tag("push", "v1", nil), false},
		{"except tags on branch", "  except: [tags]\n", branch("push", "main", nil), true},
		{"except triggers", "  except: [triggers]\n", branch("trigger", "main", nil), false},
		{"except empty list", "  except: []\n", branch("trigger", "main", nil), true},
		{"only and except", "  only: [branches]\n  except: [main]\n", branch("push", "main", nil), false},
		{"only and except other branch", "  only: [branches]\n  except: [main]\n", branch("push", "dev", nil), true},
		{"only refs hash", "  only:\n    refs: [triggers]\n", branch("trigger", "main", nil), true},
		{"only variables true", "  only:\n    variables: ['$DEPLOY == \"yes\"']\n", branch("push", "main", map[string]string{"DEPLOY": "yes"}), true},
		{"only variables false", "  only:\n    variables: ['$DEPLOY == \"yes\"']\n", branch("push", "main", nil), false},
		{"only variables any", "  only:\n    variables: ['$A', '$B']\n", branch("push", "main", map[string]string{"B": "1"}), true},
		{"only refs and variables both needed", "  only:\n    refs: [tags]\n    variables: ['$A']\n", branch("push", "main", map[string]string{"A": "1"}), false},
		{"only changes is satisfied", "  only:\n    changes: [docs/*]\n", branch("push", "main", nil), true},
		{"except changes is satisfied too", "  except:\n    changes: [docs/*]\n", branch("push", "main", nil), false},
		{"only kubernetes is never active", "  only:\n    kubernetes: active\n", branch("push", "main", nil), false},
		{"except variables", "  except:\n    variables: ['$SKIP']\n", branch("push", "main", map[string]string{"SKIP": "1"}), false},
		{"except variables unset", "  except:\n    variables: ['$SKIP']\n", branch("push", "main", nil), true},
		{"only variables see job variables", "  variables:\n    MODE: fast\n  only:\n    variables: ['$MODE == \"fast\"']\n", branch("push", "main", nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tmpl+tt.policy+"other:\n  script: y\n")
			plan, err := cfg.Evaluate(tt.ctx)
			require.NoError(t, err)
			require.Equal(t, tt.want, slices.Contains(names(plan), "job"), "jobs: %v", names(plan))
		})
	}
}
