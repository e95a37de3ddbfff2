package ciconfig

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParseExpression(f *testing.F) {
	for _, seed := range []string{
		`$VAR`,
		`${VAR} == "x"`,
		`$A == null || $B != 'y'`,
		`$REF =~ /^release\/\d+$/i && ($X || $Y)`,
		`$REF !~ $PATTERN`,
		`(($A))`,
		`$A =~ /[/`,
		`"a" == "b" && null`,
	} {
		f.Add(seed)
	}
	vars := []map[string]string{
		nil,
		{"VAR": "x", "A": "", "B": "y", "REF": "release/1", "PATTERN": "/^rel/", "X": "1"},
		{"PATTERN": "/[/", "REF": ""},
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpression(src)
		if err != nil {
			require.Nil(t, e)
			return
		}
		require.Equal(t, src, e.String())
		for _, v := range vars {
			e.Eval(v)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"job:\n  script: x\n",
		"stages: [a, b]\nj:\n  stage: b\n  script: [x, [y]]\n  needs: []\n",
		"variables: {A: 1}\nworkflow:\n  rules:\n    - if: $A == \"1\"\n      variables: {B: x}\nj:\n  script: x\n  rules:\n    - if: $B\n      when: manual\n",
		".t: &t\n  script: x\nj:\n  <<: *t\n  only: [tags, '/^v/']\n  except:\n    variables: ['$SKIP']\n",
		".b:\n  script: [b]\nj:\n  extends: .b\n  script: [!reference [.b, script], c]\n",
		"t:\n  trigger:\n    project: a/$P\n    strategy: depend\n  needs:\n    - job: j\n      optional: true\nj:\n  script: x\n",
		"a: &a [x, *a]\n",
	} {
		f.Add([]byte(seed))
	}
	contexts := []Context{
		{Source: "push", Ref: "main"},
		{Source: "trigger", Ref: "v1", Tag: true, Variables: map[string]string{"A": "1", "SKIP": "", "P": "p"}},
		{Source: "schedule", Ref: "main", Variables: map[string]string{"CI_PROJECT_PATH": "g/p"}},
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src)
		if err != nil {
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			return
		}
		for _, ctx := range contexts {
			plan, err := cfg.Evaluate(ctx)
			if err != nil {
				var ce *ConfigError
				if !errors.Is(err, ErrNoJobs) && !errors.Is(err, ErrWorkflowPrevented) && !errors.As(err, &ce) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				continue
			}
			require.NotEmpty(t, plan.Jobs)
			require.NotEmpty(t, plan.Stages)
		}
	})
}
