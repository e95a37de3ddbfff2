package ciconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mustParse parses a config that the test expects to be valid.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src))
	require.NoError(t, err)
	return cfg
}

// requireConfigError asserts that err is a *ConfigError with exactly msg.
func requireConfigError(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "want *ConfigError, got %T: %v", err, err)
	require.Equal(t, msg, ce.Error())
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		msg  string
	}{
		{
			name: "empty document",
			src:  "",
			msg:  "Please provide content of .gitlab-ci.yml",
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n",
			msg:  "Invalid configuration format",
		},
		{
			name: "include is not supported",
			src:  "include: other.yml\njob:\n  script: x\n",
			msg:  "include config is not supported by this server: put the included configuration directly in .gitlab-ci.yml",
		},
		{
			name: "top-level scalar",
			src:  "job:\n  script: x\nfoo: bar\n",
			msg:  "jobs:foo config should be a hash",
		},
		{
			name: "top-level list",
			src:  "job:\n  script: x\nfoo: [a]\n",
			msg:  "jobs:foo config should be a hash",
		},
		{
			name: "no visible job",
			src:  ".hidden:\n  script: x\n",
			msg:  "jobs config should contain at least one visible job",
		},
		{
			name: "unknown stage with default stages",
			src:  "job:\n  stage: lint\n  script: x\n",
			msg:  "job job: chosen stage lint does not exist; available stages are .pre, build, test, deploy, .post",
		},
		{
			name: "default stage test missing from custom stages",
			src:  "stages: [build]\nrspec:\n  script: x\n",
			msg:  "rspec job: chosen stage test does not exist; available stages are .pre, build, .post",
		},
		{
			name: "unknown key",
			src:  "job:\n  script: x\n  scirpt: y\n",
			msg:  "jobs:job config contains unknown keys: scirpt",
		},
		{
			name: "several unknown keys are sorted",
			src:  "job:\n  script: x\n  zeta: 1\n  alpha: 2\n",
			msg:  "jobs:job config contains unknown keys: alpha, zeta",
		},
		{
			name: "no script or trigger",
			src:  "job:\n  stage: test\n",
			msg:  "jobs:job config should implement the script:, run:, or trigger: keyword",
		},
		{
			name: "script and trigger together",
			src:  "job:\n  script: x\n  trigger: a/b\n",
			msg:  "jobs:job config contains unknown keys: trigger",
		},
		{
			name: "bridge with script keywords",
			src:  "job:\n  trigger: a/b\n  before_script: x\n",
			msg:  "jobs:job config contains unknown keys: before_script",
		},
		{
			name: "rules with only",
			src:  "job:\n  script: x\n  only: [main]\n  rules:\n    - when: always\n",
			msg:  "jobs:job config key may not be used with `rules`: only",
		},
		{
			name: "rules with except",
			src:  "job:\n  script: x\n  except: [main]\n  rules:\n    - when: always\n",
			msg:  "jobs:job config key may not be used with `rules`: except",
		},
		{
			name: "rules with except and only, in config order",
			src:  "job:\n  script: x\n  except: [a]\n  only: [b]\n  rules:\n    - when: always\n",
			msg:  "jobs:job config key may not be used with `rules`: except, only",
		},
		{
			name: "rules with start_in",
			src:  "job:\n  script: x\n  start_in: 1 minute\n  rules:\n    - when: delayed\n      start_in: 1 minute\n",
			msg:  "jobs:job config key may not be used with `rules`: start_in",
		},
		{
			name: "invalid when",
			src:  "job:\n  script: x\n  when: sometimes\n",
			msg:  "jobs:job when should be one of: on_success, on_failure, always, manual, delayed",
		},
		{
			name: "never is only for rules",
			src:  "job:\n  script: x\n  when: never\n",
			msg:  "jobs:job when should be one of: on_success, on_failure, always, manual, delayed",
		},
		{
			name: "invalid rules if",
			src:  "job:\n  script: x\n  rules:\n    - if: '$A == '\n",
			msg:  "jobs:job:rules:rule if invalid expression syntax",
		},
		{
			name: "invalid workflow rules if",
			src:  "workflow:\n  rules:\n    - if: '$A = \"b\"'\njob:\n  script: x\n",
			msg:  "workflow:rules:rule if invalid expression syntax",
		},
		{
			name: "invalid rule when",
			src:  "job:\n  script: x\n  rules:\n    - when: later\n",
			msg:  "jobs:job:rules:rule when unknown value: later",
		},
		{
			name: "workflow rule when",
			src:  "workflow:\n  rules:\n    - when: manual\njob:\n  script: x\n",
			msg:  "workflow:rules:rule when unknown value: manual",
		},
		{
			name: "unknown rule key",
			src:  "job:\n  script: x\n  rules:\n    - iff: $A\n",
			msg:  "jobs:job:rules:rule config contains unknown keys: iff",
		},
		{
			name: "rules not a list",
			src:  "job:\n  script: x\n  rules:\n    if: $A\n",
			msg:  "jobs:job:rules config should be an array of hashes",
		},
		{
			name: "unknown workflow key",
			src:  "workflow:\n  rulez: []\njob:\n  script: x\n",
			msg:  "workflow config contains unknown keys: rulez",
		},
		{
			name: "unknown default key",
			src:  "default:\n  script: x\njob:\n  script: x\n",
			msg:  "default config contains unknown keys: script",
		},
		{
			name: "deprecated global and default together",
			src:  "before_script: [a]\ndefault:\n  before_script: [b]\njob:\n  script: x\n",
			msg:  "before_script is defined in top-level and `default:` entry",
		},
		{
			name: "script of numbers",
			src:  "job:\n  script: [1, 2]\n",
			msg:  "jobs:job script config should be a string or a nested array of strings up to 10 levels deep",
		},
		{
			name: "empty script",
			src:  "job:\n  script: []\n",
			msg:  "jobs:job script can't be blank",
		},
		{
			name: "invalid global variable name",
			src:  "variables:\n  BAD-NAME: x\njob:\n  script: x\n",
			msg:  `variables config uses invalid variable name: "BAD-NAME" (allowed characters are A-Z, a-z, 0-9 and _)`,
		},
		{
			name: "invalid job variable value",
			src:  "job:\n  script: x\n  variables:\n    A: [1]\n",
			msg:  "jobs:job:variables config should be a hash of key value pairs, value can be a hash",
		},
		{
			name: "unknown variable hash key",
			src:  "job:\n  script: x\n  variables:\n    A:\n      value: x\n      secret: y\n",
			msg:  "jobs:job:variables:A config contains unknown keys: secret",
		},
		{
			name: "invalid only regexp",
			src:  "job:\n  script: x\n  only: ['/[/']\n",
			msg:  "jobs:job:only config should be an array of strings or regular expressions (/[/: compile /[/: error parsing regexp: missing closing ]: `[`)",
		},
		{
			name: "invalid only variables expression",
			src:  "job:\n  script: x\n  only:\n    variables: ['$A ==']\n",
			msg:  "jobs:job:only variables invalid expression syntax",
		},
		{
			name: "unknown only key",
			src:  "job:\n  script: x\n  except:\n    branches: [main]\n",
			msg:  "jobs:job:except config contains unknown keys: branches",
		},
		{
			name: "unknown trigger key",
			src:  "job:\n  trigger:\n    project: a/b\n    ref: main\n",
			msg:  "jobs:job:trigger config contains unknown keys: ref",
		},
		{
			name: "invalid trigger strategy",
			src:  "job:\n  trigger:\n    project: a/b\n    strategy: wait\n",
			msg:  "jobs:job:trigger strategy should be depend or mirror",
		},
		{
			name: "unknown artifacts key",
			src:  "job:\n  script: x\n  artifacts:\n    path: [a]\n",
			msg:  "jobs:job:artifacts config contains unknown keys: path",
		},
		{
			name: "invalid artifacts when",
			src:  "job:\n  script: x\n  artifacts:\n    when: never\n",
			msg:  "jobs:job:artifacts when should be on_success, on_failure or always",
		},
		{
			name: "delayed without start_in",
			src:  "job:\n  script: x\n  when: delayed\n",
			msg:  "jobs:job start in can't be blank",
		},
		{
			name: "start_in without delayed",
			src:  "job:\n  script: x\n  start_in: 5 minutes\n",
			msg:  "jobs:job start in should be blank",
		},
		{
			name: "invalid allow_failure",
			src:  "job:\n  script: x\n  allow_failure: maybe\n",
			msg:  "jobs:job allow failure should be a hash or a boolean value",
		},
		{
			name: "unknown extends base",
			src:  "job:\n  extends: .missing\n  script: x\n",
			msg:  "job: unknown key in `extends` (.missing)",
		},
		{
			name: "circular extends",
			src:  ".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n  script: x\n",
			msg:  ".a: circular dependency detected in `extends`",
		},
		{
			name: "extends a scalar",
			src:  ".a: text\njob:\n  extends: .a\n  script: x\n",
			msg:  "job: invalid base hash in `extends` (.a)",
		},
		{
			name: "undefined dependency",
			src:  "job:\n  script: x\n  dependencies: [build]\n",
			msg:  "job job: undefined dependency: build",
		},
		{
			name: "dependency in a later stage",
			src:  "build:\n  stage: build\n  script: x\n  dependencies: [deploy]\ndeploy:\n  stage: deploy\n  script: x\n",
			msg:  "build job: dependency deploy is not defined in current or prior stages",
		},
		{
			name: "duplicate needs",
			src:  "a:\n  script: x\nb:\n  script: x\n  needs: [a, a]\n",
			msg:  "b has the following needs duplicated: a.",
		},
		{
			name: "circular needs",
			src:  "a:\n  script: x\n  needs: [b]\nb:\n  script: x\n  needs: [a]\n",
			msg:  "The pipeline has circular dependencies",
		},
		{
			name: "unknown anchor",
			src:  "job:\n  script: *nope\n",
			msg:  "yaml: unknown anchor 'nope' referenced",
		},
		{
			name: "missing !reference",
			src:  "job:\n  script: !reference [.setup, script]\n",
			msg:  "!reference [.setup, script] could not be found",
		},
		{
			name: "circular !reference",
			src:  ".a:\n  script: !reference [.b, script]\n.b:\n  script: !reference [.a, script]\njob:\n  script: !reference [.a, script]\n",
			msg:  "!reference [.b, script] is part of a circular chain or nested more than 10 levels deep",
		},
		{
			name: "spec inputs",
			src:  "spec:\n  inputs:\n    env: {}\n---\njob:\n  script: x\n",
			msg:  "spec:inputs is not supported by this server",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src))
			require.Nil(t, cfg)
			requireConfigError(t, err, tt.msg)
		})
	}
}

func TestParseYAMLSyntaxError(t *testing.T) {
	_, err := Parse([]byte("job:\n  script: [a\n"))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.True(t, strings.HasPrefix(ce.Msg, "yaml: "), ce.Msg)
}

func TestParseJobNameTooLong(t *testing.T) {
	name := strings.Repeat("j", 256)
	_, err := Parse([]byte(name + ":\n  script: x\n"))
	requireConfigError(t, err, "jobs:"+name+" name is too long (maximum is 255 characters)")
}

func TestParseAliasBombIsBounded(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		src += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	src += "job:\n  script: *i\n"
	_, err := Parse([]byte(src))
	requireConfigError(t, err, "The parsed YAML is too big")
}

func TestParseRecursiveAliasIsRejected(t *testing.T) {
	_, err := Parse([]byte("job: &j\n  script: x\n  self: *j\n"))
	require.Error(t, err)
}

func TestParseStages(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"default", "job:\n  script: x\n", []string{".pre", "build", "test", "deploy", ".post"}},
		{"custom", "stages: [test, build, package]\njob:\n  script: x\n", []string{".pre", "test", "build", "package", ".post"}},
		{"explicit pre and post are moved", "stages: [.post, lint, .pre, test, lint]\njob:\n  script: x\n", []string{".pre", "lint", "test", ".post"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, mustParse(t, tt.src).Stages())
		})
	}
}

func TestParseHiddenJobsAndKeywordsAreNotJobs(t *testing.T) {
	cfg := mustParse(t, `
image: alpine
services: [postgres]
cache: {paths: [vendor]}
variables: {A: 1}
.template: &tpl
  script: [echo]
.scalar-anchor: &value some text
build:
  <<: *tpl
test:
  script: [*value]
`)
	require.Equal(t, []string{"build", "test"}, cfg.JobNames())
}
