package ciconfig

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// names lists the jobs of a plan in plan order.
func names(p *Plan) []string {
	out := make([]string, len(p.Jobs))
	for i, j := range p.Jobs {
		out[i] = j.Name
	}
	return out
}

// jobByName finds a job in a plan.
func jobByName(t *testing.T, p *Plan, name string) Job {
	t.Helper()
	for _, j := range p.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("job %q not in plan %v", name, names(p))
	return Job{}
}

func branch(source, ref string, vars map[string]string) Context {
	return Context{Source: source, Ref: ref, Variables: vars}
}

func tag(source, ref string, vars map[string]string) Context {
	return Context{Source: source, Ref: ref, Tag: true, Variables: vars}
}

func TestNoJobs(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"all excluded", "job:\n  script: x\n  only: [tags]\n"},
		{"only .pre and .post", "pre:\n  stage: .pre\n  script: x\npost:\n  stage: .post\n  script: x\njob:\n  script: x\n  only: [tags]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, tt.src).Evaluate(branch("push", "main", nil))
			require.ErrorIs(t, err, ErrNoJobs)
		})
	}
}

func TestStageOrdering(t *testing.T) {
	cfg := mustParse(t, `
stages: [build, test, deploy]
post:
  stage: .post
  script: x
deploy:
  stage: deploy
  script: x
test2:
  script: x
build:
  stage: build
  script: x
pre:
  stage: .pre
  script: x
test1:
  stage: test
  script: x
`)
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	require.Equal(t, []string{".pre", "build", "test", "deploy", ".post"}, plan.Stages)
	require.Equal(t, []string{"pre", "build", "test2", "test1", "deploy", "post"}, names(plan))
	require.Equal(t, []int{0, 1, 2, 2, 3, 4}, []int{plan.Jobs[0].StageIndex, plan.Jobs[1].StageIndex, plan.Jobs[2].StageIndex, plan.Jobs[3].StageIndex, plan.Jobs[4].StageIndex, plan.Jobs[5].StageIndex})
	require.Equal(t, "test", jobByName(t, plan, "test2").Stage, "a job without stage is in test")
}

func TestContextFallbackVariables(t *testing.T) {
	cfg := mustParse(t, `
job:
  script: x
  rules:
    - if: $CI_PIPELINE_SOURCE == "trigger" && $CI_COMMIT_REF_NAME == "main" && $CI_COMMIT_BRANCH == "main" && $CI_COMMIT_TAG == null
`)
	_, err := cfg.Evaluate(branch("trigger", "main", nil))
	require.NoError(t, err)
	_, err = cfg.Evaluate(branch("trigger", "main", map[string]string{"CI_PIPELINE_SOURCE": "api"}))
	require.ErrorIs(t, err, ErrNoJobs)
}

func TestPlanIsOwnedByCaller(t *testing.T) {
	cfg := mustParse(t, "job:\n  script: [a, b]\n  variables: {V: v}\n  artifacts: {paths: [p]}\n")
	plan, err := cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	plan.Jobs[0].Script[0] = "changed"
	plan.Jobs[0].Variables["V"] = "changed"
	plan.Jobs[0].Artifacts.Paths[0] = "changed"
	plan, err = cfg.Evaluate(branch("push", "main", nil))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, plan.Jobs[0].Script)
	require.Equal(t, "v", plan.Jobs[0].Variables["V"])
	require.Equal(t, []string{"p"}, plan.Jobs[0].Artifacts.Paths)
}

func TestEvaluateConcurrent(t *testing.T) {
	cfg := mustParse(t, `
job:
  script: x
  rules:
    - if: $CI_COMMIT_REF_NAME =~ $PATTERN
`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ref := "r" + strconv.Itoa(i%50)
				plan, err := cfg.Evaluate(branch("trigger", ref, map[string]string{"PATTERN": "/^" + ref + "$/"}))
				if err != nil || len(plan.Jobs) != 1 {
					t.Errorf("ref %s: plan %v, err %v", ref, plan, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkEvaluate(b *testing.B) {
	cfg, err := Parse([]byte(`
variables: {GLOBAL: g}
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "trigger"
build:
  stage: build
  script: make
  rules:
    - if: $CI_COMMIT_BRANCH =~ /^(main|release-.*)$/ && $SKIP != "true"
test:
  script: make test
  needs: [build]
  only: [branches, triggers]
deploy:
  stage: deploy
  trigger:
    project: group/$TARGET
    strategy: depend
  variables: {TARGET: prod}
`))
	require.NoError(b, err)
	ctx := branch("trigger", "main", map[string]string{"CI_PIPELINE_SOURCE": "trigger", "CI_COMMIT_BRANCH": "main"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPrecedenceTriggerOverJobOverGlobalOverPredefined(t *testing.T) {
	cfg, err := Parse([]byte(`variables:
  CI_COMMIT_REF_NAME: from-global
  LEVEL: global
job:
  script: [x]
  variables:
    LEVEL: job
  rules:
    - if: $LEVEL == "trigger" && $CI_COMMIT_REF_NAME == "from-global"
`))
	if err != nil {
		t.Fatal(err)
	}
	pre := map[string]string{"CI_COMMIT_REF_NAME": "main", "LEVEL": "predefined"}
	if _, err := cfg.Evaluate(Context{Source: "trigger", Ref: "main", Predefined: pre}); err != ErrNoJobs {
		t.Fatalf("job variable must beat global and predefined: got %v", err)
	}
	plan, err := cfg.Evaluate(Context{Source: "trigger", Ref: "main", Predefined: pre, Variables: map[string]string{"LEVEL": "trigger"}})
	if err != nil {
		t.Fatalf("trigger variable must beat the job's: %v", err)
	}
	if len(plan.Jobs) != 1 {
		t.Fatalf("want 1 job, got %d", len(plan.Jobs))
	}
}
