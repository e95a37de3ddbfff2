package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// curl runs the curl binary with args, the request flags exactly as GitLab's
// documentation writes them. Only output flags are added (--silent,
// --show-error, --max-time, and --write-out for the status code); they do
// not change the request.
func curl(t testing.TB, args ...string) reply {
	t.Helper()
	full := append([]string{"--silent", "--show-error", "--max-time", "30", "--write-out", "\n%{http_code}"}, args...)
	out, err := exec.Command("curl", full...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("curl %q: %v: %s", args, err, ee.Stderr)
	}
	require.NoError(t, err, "curl %q", args)
	i := bytes.LastIndexByte(out, '\n')
	require.GreaterOrEqual(t, i, 0, "curl output: %q", out)
	status, err := strconv.Atoi(string(out[i+1:]))
	require.NoError(t, err, "curl output: %q", out)
	return reply{Status: status, Body: out[:i]}
}

// pipelineKeys is the pipeline entity's fields in GitLab's order.
var pipelineKeys = []string{"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at",
	"web_url", "before_sha", "tag", "yaml_errors", "user", "started_at", "finished_at", "committed_at", "duration",
	"queued_duration", "coverage", "detailed_status"}

// topLevelKeys lists a JSON object's keys in the order they appear.
func topLevelKeys(t testing.TB, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok, "not an object: %s", body)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// TestSeedExamples runs GitLab's documented curl commands against the real
// binaries, changing only the host, project id and token.
func TestSeedExamples(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "seed")
	p := s.CreateProject(t, owner, docsCI)
	masterSHA := s.CreateBranch(t, owner.Token, p.ID, "feature/x", "master")
	s.CreateBranch(t, owner.Token, p.ID, "v.1-branch", "master")
	s.CreateTag(t, owner.Token, p.ID, "v1.0", "master")
	api := s.URL + "/api/v4"

	// Pipeline trigger tokens API, "Create a trigger token":
	//   curl --request POST --header "PRIVATE-TOKEN: <your_access_token>" \
	//     --form description="my description" "https://gitlab.example.com/api/v4/projects/1/triggers"
	r := curl(t, "--request", "POST", "--header", "PRIVATE-TOKEN: "+owner.Token,
		"--form", "description=my description", fmt.Sprintf("%s/projects/%d/triggers", api, p.ID))
	tr := decode[triggerJSON](t, r, http.StatusCreated)
	require.Equal(t, "my description", tr.Description)
	require.Regexp(t, `^glptt-[0-9a-f]{40}$`, tr.Token, "the owner sees the full token")
	require.NotNil(t, tr.Owner)
	require.Equal(t, owner.Username, tr.Owner.Username)
	require.Nil(t, tr.LastUsed)
	token := tr.Token

	// triggered checks a 201 trigger answer and reads the pipeline back.
	triggered := func(t *testing.T, r reply, ref string, tag bool) pipelineJSON {
		t.Helper()
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), `"source":"trigger"`)
		pl := decode[pipelineJSON](t, r, http.StatusCreated)
		require.NotZero(t, pl.ID)
		require.Equal(t, p.ID, pl.ProjectID)
		require.Equal(t, ref, pl.Ref)
		require.Equal(t, tag, pl.Tag)
		require.Equal(t, "trigger", pl.Source)
		require.Equal(t, masterSHA, pl.SHA, "every ref here points at master's commit")
		require.Nil(t, pl.YAMLErrors)
		require.NotNil(t, pl.User, "user is the trigger's owner")
		require.Equal(t, owner.Username, pl.User.Username)

		got := decode[pipelineJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", p.ID, pl.ID), owner.Token), http.StatusOK)
		require.Equal(t, pl.ID, got.ID)
		require.Equal(t, ref, got.Ref)
		require.Equal(t, "trigger", got.Source)
		require.Equal(t, tag, got.Tag)
		require.Equal(t, docsJobStages, jobStages(s.PipelineJobs(t, owner.Token, p.ID, pl.ID)))
		return pl
	}

	t.Run("examples", func(t *testing.T) {
		t.Run("form", func(t *testing.T) {
			t.Parallel()
			// curl --request POST --form token=TOKEN --form ref=master \
			//   https://gitlab.example.com/api/v4/projects/9/trigger/pipeline
			r := curl(t, "--request", "POST", "--form", "token="+token, "--form", "ref=master",
				fmt.Sprintf("%s/projects/%d/trigger/pipeline", api, p.ID))
			pl := triggered(t, r, "master", false)
			require.Equal(t, pipelineKeys, topLevelKeys(t, r.Body), "pipeline entity fields in GitLab's order")
			require.Equal(t, fmt.Sprintf("%s/%s/-/pipelines/%d", s.URL, p.Path, pl.ID), pl.WebURL)
			require.Empty(t, s.PipelineVariables(t, owner.Token, p.ID, pl.ID))

			// The first stage is handed to the runners; the rest waits.
			eventually(t, 10*time.Second, "run_tests pending", func() bool {
				for _, j := range s.PipelineJobs(t, owner.Token, p.ID, pl.ID) {
					if j.Name == "run_tests" {
						return j.Status == "pending"
					}
				}
				return false
			})
			for _, j := range s.PipelineJobs(t, owner.Token, p.ID, pl.ID) {
				if j.Name != "run_tests" {
					require.Equal(t, "created", j.Status, "job %s", j.Name)
				}
			}
		})
		t.Run("query string", func(t *testing.T) {
			t.Parallel()
			// curl --request POST \
			//   "https://gitlab.example.com/api/v4/projects/9/trigger/pipeline?token=TOKEN&ref=master"
			r := curl(t, "--request", "POST", fmt.Sprintf("%s/projects/%d/trigger/pipeline?token=%s&ref=master", api, p.ID, token))
			triggered(t, r, "master", false)
		})
		t.Run("variables", func(t *testing.T) {
			t.Parallel()
			// curl --request POST --form token=TOKEN --form ref=master \
			//   --form "variables[UPLOAD_TO_S3]=true" https://gitlab.example.com/api/v4/projects/9/trigger/pipeline
			r := curl(t, "--request", "POST", "--form", "token="+token, "--form", "ref=master",
				"--form", "variables[UPLOAD_TO_S3]=true", fmt.Sprintf("%s/projects/%d/trigger/pipeline", api, p.ID))
			pl := triggered(t, r, "master", false)
			require.Equal(t, map[string]string{"UPLOAD_TO_S3": "true"}, s.PipelineVariables(t, owner.Token, p.ID, pl.ID))
		})
		t.Run("webhook", func(t *testing.T) {
			t.Parallel()
			// https://gitlab.example.com/api/v4/projects/9/ref/master/trigger/pipeline?token=TOKEN
			r := curl(t, "--request", "POST", fmt.Sprintf("%s/projects/%d/ref/master/trigger/pipeline?token=%s", api, p.ID, token))
			triggered(t, r, "master", false)
		})
		t.Run("webhook with a push payload", func(t *testing.T) {
			t.Parallel()
			// A Git host posts its own push event, whose ref names the
			// branch that fired it: the ref in the URL wins.
			r := curl(t, "--request", "POST", "--header", "Content-Type: application/json", "--header", "X-Gitlab-Event: Push Hook",
				"--data", `{"object_kind":"push","ref":"refs/heads/feature/x","before":"0000000000000000000000000000000000000000"}`,
				fmt.Sprintf("%s/projects/%d/ref/master/trigger/pipeline?token=%s", api, p.ID, token))
			triggered(t, r, "master", false)
		})
		t.Run("project by URL-encoded path", func(t *testing.T) {
			t.Parallel()
			require.Contains(t, p.Enc, "%2F")
			r := curl(t, "--request", "POST", "--form", "token="+token, "--form", "ref=master",
				fmt.Sprintf("%s/projects/%s/trigger/pipeline", api, p.Enc))
			triggered(t, r, "master", false)
		})
		t.Run("branch with a slash through the webhook form", func(t *testing.T) {
			t.Parallel()
			r := curl(t, "--request", "POST", fmt.Sprintf("%s/projects/%d/ref/feature%%2Fx/trigger/pipeline?token=%s", api, p.ID, token))
			triggered(t, r, "feature/x", false)
		})
		t.Run("branch with dots through the webhook form", func(t *testing.T) {
			t.Parallel()
			r := curl(t, "--request", "POST", fmt.Sprintf("%s/projects/%d/ref/v.1-branch/trigger/pipeline?token=%s", api, p.ID, token))
			triggered(t, r, "v.1-branch", false)
		})
		t.Run("tag", func(t *testing.T) {
			t.Parallel()
			r := curl(t, "--request", "POST", "--form", "token="+token, "--form", "ref=v1.0",
				fmt.Sprintf("%s/projects/%d/trigger/pipeline", api, p.ID))
			triggered(t, r, "v1.0", true)
		})
		t.Run("variables with token and ref in the query string", func(t *testing.T) {
			t.Parallel()
			// Pipeline trigger tokens API, "Trigger a pipeline with a token":
			//   curl --request POST --form "variables[VAR1]=value1" --form "variables[VAR2]=value2" \
			//     "https://gitlab.example.com/api/v4/projects/123/trigger/pipeline?token=2cb1840fb9dfc9fb0b7b1609cd29cb&ref=main"
			r := curl(t, "--request", "POST", "--form", "variables[VAR1]=value1", "--form", "variables[VAR2]=value2",
				fmt.Sprintf("%s/projects/%d/trigger/pipeline?token=%s&ref=master", api, p.ID, token))
			pl := triggered(t, r, "master", false)
			require.Equal(t, map[string]string{"VAR1": "value1", "VAR2": "value2"}, s.PipelineVariables(t, owner.Token, p.ID, pl.ID))
		})
		t.Run("JSON body", func(t *testing.T) {
			t.Parallel()
			body := fmt.Sprintf(`{"token":%q,"ref":"master","variables":{"A":"1"}}`, token)
			r := curl(t, "--request", "POST", "--header", "Content-Type: application/json", "--data", body,
				fmt.Sprintf("%s/projects/%d/trigger/pipeline", api, p.ID))
			pl := triggered(t, r, "master", false)
			require.Equal(t, map[string]string{"A": "1"}, s.PipelineVariables(t, owner.Token, p.ID, pl.ID))
		})
	})
	if t.Failed() {
		return
	}

	// Every example above created exactly one pipeline, all by this token.
	pls := s.ListPipelines(t, owner.Token, p.ID, "source=trigger")
	require.Len(t, pls, 11)
	require.Equal(t, 11, s.PipelineCount(t, p.ID))

	// The rest of the pipeline trigger tokens API's curl examples.
	//   curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/1/triggers"
	list := decode[[]triggerJSON](t, curl(t, "--header", "PRIVATE-TOKEN: "+owner.Token,
		fmt.Sprintf("%s/projects/%d/triggers", api, p.ID)), http.StatusOK)
	require.Len(t, list, 1)
	require.Equal(t, tr.ID, list[0].ID)
	require.Equal(t, token, list[0].Token)

	//   curl --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/1/triggers/5"
	got := decode[triggerJSON](t, curl(t, "--header", "PRIVATE-TOKEN: "+owner.Token,
		fmt.Sprintf("%s/projects/%d/triggers/%d", api, p.ID, tr.ID)), http.StatusOK)
	require.Equal(t, "my description", got.Description)
	require.NotNil(t, got.LastUsed, "last_used is set once the token created a pipeline")
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, *got.LastUsed)

	//   curl --request PUT --header "PRIVATE-TOKEN: <your_access_token>" \
	//     --form description="my description" "https://gitlab.example.com/api/v4/projects/1/triggers/10"
	upd := decode[triggerJSON](t, curl(t, "--request", "PUT", "--header", "PRIVATE-TOKEN: "+owner.Token,
		"--form", "description=my new description", fmt.Sprintf("%s/projects/%d/triggers/%d", api, p.ID, tr.ID)), http.StatusOK)
	require.Equal(t, "my new description", upd.Description)
	require.Equal(t, token, upd.Token)

	//   curl --request DELETE --header "PRIVATE-TOKEN: <your_access_token>" "https://gitlab.example.com/api/v4/projects/1/triggers/5"
	del := curl(t, "--request", "DELETE", "--header", "PRIVATE-TOKEN: "+owner.Token,
		fmt.Sprintf("%s/projects/%d/triggers/%d", api, p.ID, tr.ID))
	require.Equal(t, http.StatusNoContent, del.Status)
	require.Empty(t, del.Body)
	r = curl(t, "--request", "POST", "--form", "token="+token, "--form", "ref=master",
		fmt.Sprintf("%s/projects/%d/trigger/pipeline", api, p.ID))
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, body404, strings.TrimSpace(string(r.Body)))
	require.Equal(t, 11, s.PipelineCount(t, p.ID))
}
