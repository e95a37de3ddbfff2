package api

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// artJob makes a pipeline of project with one build job named name, both in
// the given statuses, and returns the job's id.
func artJob(t *testing.T, a *testAPI, projectID, userID int64, ref, name, pipelineStatus, jobStatus string) int64 {
	t.Helper()
	ctx := context.Background()
	spec, err := json.Marshal(store.JobSpec{Script: []string{"true"}, Artifacts: &store.ArtifactsSpec{Paths: []string{"out.txt"}}})
	require.NoError(t, err)
	plID, err := a.q.CreatePipeline(ctx, store.NewPipeline{
		ProjectID: projectID, SHA: strings.Repeat("a", 40), Ref: ref, Status: pipelineStatus, Source: "push", UserID: &userID,
		Jobs: []store.NewJob{{Kind: "build", Name: name, Stage: "test", Status: jobStatus, When: "on_success", Spec: spec}},
	})
	require.NoError(t, err)
	var id int64
	require.NoError(t, a.q.DB().QueryRow(ctx, `SELECT id FROM jobs WHERE pipeline_id = $1`, plID).Scan(&id))
	return id
}

// artArchive stores a zip holding out.txt with content as job's artifacts.
func artArchive(t *testing.T, a *testAPI, jobID int64, content string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("out.txt")
	require.NoError(t, err)
	_, err = io.WriteString(w, content)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	ok, err := a.q.InsertJobArtifacts(context.Background(), jobID, buf.Bytes())
	require.NoError(t, err)
	require.True(t, ok)
}

// artRunningToken marks a job running with a fresh CI job token, as a
// dispatcher's claim does, and returns the token.
func artRunningToken(t *testing.T, a *testAPI, jobID int64, status string) string {
	t.Helper()
	tok := secret.NewJobToken()
	_, err := a.q.DB().Exec(context.Background(), `UPDATE jobs SET status = $1, token_digest = $2 WHERE id = $3`,
		status, secret.Digest(tok), jobID)
	require.NoError(t, err)
	return tok
}

// artGet downloads path with extra headers and returns status, body and
// headers.
func artGet(t *testing.T, a *testAPI, path string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.http.URL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if u, ok := header["basic"]; ok {
		req.Header.Del("basic")
		req.SetBasicAuth("gitlab-ci-token", u)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b, resp.Header
}

// artOutTxt reads out.txt from a zip archive.
func artOutTxt(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err, "body: %s", b)
	f, err := zr.Open("out.txt")
	require.NoError(t, err)
	defer f.Close()
	out, err := io.ReadAll(f)
	require.NoError(t, err)
	return string(out)
}

func TestDownloadArtifactsAuth(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	reporter := upCreateUser(t, a, "reporter", false)
	guest := upCreateUser(t, a, "guest", false)
	outsider := upCreateUser(t, a, "outsider", false)
	projA := upCreateProject(t, a, alice.token, url.Values{"name": {"producer"}})
	projB := upCreateProject(t, a, alice.token, url.Values{"name": {"consumer"}})
	projC := upCreateProject(t, a, outsider.token, url.Values{"name": {"stranger"}})
	pub := upCreateProject(t, a, alice.token, url.Values{"name": {"open"}, "visibility": {"public"}})
	for _, m := range []struct {
		u     upUser
		level int
	}{{reporter, store.Reporter}, {guest, store.Guest}} {
		code, body, _ := a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/members", projA.ID), alice.token, "",
			fmt.Sprintf("user_id=%d&access_level=%d", m.u.id, m.level))
		require.Equal(t, http.StatusCreated, code, body)
	}

	build := artJob(t, a, projA.ID, alice.id, "master", "build", "success", "success")
	artArchive(t, a, build, "hello\n")
	pubBuild := artJob(t, a, pub.ID, alice.id, "master", "build", "success", "success")
	artArchive(t, a, pubBuild, "public\n")
	ownJob := artJob(t, a, projA.ID, alice.id, "master", "deploy", "running", "pending")
	ownToken := artRunningToken(t, a, ownJob, "running")
	bJob := artJob(t, a, projB.ID, alice.id, "master", "fetch", "running", "pending")
	bToken := artRunningToken(t, a, bJob, "running")
	cJob := artJob(t, a, projC.ID, outsider.id, "master", "fetch", "running", "pending")
	cToken := artRunningToken(t, a, cJob, "running")
	doneJob := artJob(t, a, projB.ID, alice.id, "master", "old", "success", "pending")
	doneToken := artRunningToken(t, a, doneJob, "success")

	ref := fmt.Sprintf("/api/v4/projects/%d/jobs/artifacts/master/download?job=build", projA.ID)
	byID := fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", projA.ID, build)
	const (
		notFoundProject = `{"message":"404 Project Not Found"}`
		forbidden       = `{"message":"403 Forbidden"}`
		unauthorized    = `{"message":"401 Unauthorized"}`
	)
	type tc struct {
		name   string
		path   string
		header map[string]string
		status int
		body   string // for errors
	}
	check := func(t *testing.T, c tc) {
		t.Helper()
		code, body, h := artGet(t, a, c.path, c.header)
		require.Equal(t, c.status, code, "body: %s", body)
		if c.status != http.StatusOK {
			require.Equal(t, c.body, strings.TrimSpace(string(body)))
			return
		}
		require.Equal(t, "application/zip", h.Get("Content-Type"))
		require.Equal(t, `attachment; filename="artifacts.zip"`, h.Get("Content-Disposition"))
		require.Equal(t, fmt.Sprint(len(body)), h.Get("Content-Length"))
		require.NotEmpty(t, artOutTxt(t, body))
	}
	pat := func(u upUser) map[string]string { return map[string]string{"PRIVATE-TOKEN": u.token} }

	cases := []tc{
		{"owner by ref", ref, pat(alice), http.StatusOK, ""},
		{"owner by id", byID, pat(alice), http.StatusOK, ""},
		{"owner by path", fmt.Sprintf("/api/v4/projects/alice%%2Fproducer/jobs/artifacts/master/download?job=build"), pat(alice), http.StatusOK, ""},
		{"reporter", ref, pat(reporter), http.StatusOK, ""},
		{"guest", ref, pat(guest), http.StatusForbidden, forbidden},
		{"guest by id", byID, pat(guest), http.StatusForbidden, forbidden},
		{"outsider", ref, pat(outsider), http.StatusNotFound, notFoundProject},
		{"anonymous", ref, nil, http.StatusNotFound, notFoundProject},
		{"anonymous, public project", fmt.Sprintf("/api/v4/projects/%d/jobs/artifacts/master/download?job=build", pub.ID), nil, http.StatusOK, ""},
		{"job token of the project's own job", ref + "&job_token=" + ownToken, nil, http.StatusOK, ""},
		{"own job token by id, header", byID, map[string]string{"JOB-TOKEN": ownToken}, http.StatusOK, ""},
		{"job token of a project not on the allowlist", ref + "&job_token=" + bToken, nil, http.StatusNotFound, notFoundProject},
		{"same, header", byID, map[string]string{"JOB-TOKEN": bToken}, http.StatusNotFound, notFoundProject},
		{"job token of a finished job", ref + "&job_token=" + doneToken, nil, http.StatusUnauthorized, unauthorized},
		{"unknown job token", byID, map[string]string{"JOB-TOKEN": secret.NewJobToken()}, http.StatusUnauthorized, unauthorized},
		{"missing job", fmt.Sprintf("/api/v4/projects/%d/jobs/artifacts/master/download", projA.ID), pat(alice),
			http.StatusBadRequest, `{"error":"job is missing"}`},
		{"unknown job name", strings.Replace(ref, "job=build", "job=nope", 1), pat(alice), http.StatusNotFound, `{"message":"404 Not found"}`},
		{"unknown ref", strings.Replace(ref, "/master/", "/nope/", 1), pat(alice), http.StatusNotFound, `{"message":"404 Not found"}`},
		{"job without artifacts", fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", projA.ID, ownJob), pat(alice),
			http.StatusNotFound, `{"message":"404 Not Found"}`},
		{"unknown job id", fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", projA.ID, 999999), pat(alice),
			http.StatusNotFound, `{"message":"404 Not found"}`},
		{"another project's job id", fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", projA.ID, pubBuild), pat(alice),
			http.StatusNotFound, `{"message":"404 Not found"}`},
		{"job id not a number", fmt.Sprintf("/api/v4/projects/%d/jobs/abc/artifacts", projA.ID), pat(alice),
			http.StatusBadRequest, `{"error":"job_id is invalid"}`},
		{"unknown project", "/api/v4/projects/999999/jobs/artifacts/master/download?job=build", pat(alice),
			http.StatusNotFound, notFoundProject},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c) })
	}

	// B on A's inbound allowlist: B's jobs read A's artifacts, in every
	// place a job token may be given.
	code, body, _ := a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/job_token_scope/allowlist", projA.ID), alice.token, "",
		fmt.Sprintf("target_project_id=%d", projB.ID))
	require.Equal(t, http.StatusCreated, code, body)
	// C too, but C's job runs for a user who cannot see A.
	code, body, _ = a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/job_token_scope/allowlist", projA.ID), a.admin, "",
		fmt.Sprintf("target_project_id=%d", projC.ID))
	require.Equal(t, http.StatusCreated, code, body)
	for _, c := range []tc{
		{"allowlisted, query", ref + "&job_token=" + bToken, nil, http.StatusOK, ""},
		{"allowlisted, token parameter", ref + "&token=" + bToken, nil, http.StatusOK, ""},
		{"allowlisted, header", byID, map[string]string{"JOB-TOKEN": bToken}, http.StatusOK, ""},
		{"allowlisted, basic auth", byID, map[string]string{"basic": bToken}, http.StatusOK, ""},
		{"allowlisted, finished job", ref + "&job_token=" + doneToken, nil, http.StatusUnauthorized, unauthorized},
		{"allowlisted, job user without access", ref + "&job_token=" + cToken, nil, http.StatusNotFound, notFoundProject},
		{"allowlist is inbound only", fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", projB.ID, bJob),
			map[string]string{"JOB-TOKEN": ownToken}, http.StatusNotFound, notFoundProject},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, c) })
	}

	// The token dies with its job.
	_, err := a.q.DB().Exec(context.Background(), `UPDATE jobs SET status = 'success' WHERE id = $1`, bJob)
	require.NoError(t, err)
	check(t, tc{"after the job", ref + "&job_token=" + bToken, nil, http.StatusUnauthorized, unauthorized})
}

// GitLab serves the artifacts of the latest successful pipeline of the ref:
// a newer failed pipeline does not count, and a newer successful pipeline
// without the job hides older ones unless search_recent_successful_pipelines
// is set.
func TestDownloadArtifactsLatestSuccessful(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	alice := upCreateUser(t, a, "alice", false)
	p := upCreateProject(t, a, alice.token, url.Values{"name": {"producer"}})
	download := func(job, extra string) (int, string) {
		code, body, _ := artGet(t, a, fmt.Sprintf("/api/v4/projects/%d/jobs/artifacts/master/download?job=%s%s", p.ID, job, extra),
			map[string]string{"PRIVATE-TOKEN": alice.token})
		if code != http.StatusOK {
			return code, strings.TrimSpace(string(body))
		}
		return code, artOutTxt(t, body)
	}

	first := artJob(t, a, p.ID, alice.id, "master", "build", "success", "success")
	artArchive(t, a, first, "first\n")
	other := artJob(t, a, p.ID, alice.id, "feature", "build", "success", "success")
	artArchive(t, a, other, "feature\n")
	failed := artJob(t, a, p.ID, alice.id, "master", "build", "failed", "failed")
	artArchive(t, a, failed, "failed\n")
	code, got := download("build", "")
	require.Equal(t, http.StatusOK, code, got)
	require.Equal(t, "first\n", got)

	// A newer successful pipeline wins.
	second := artJob(t, a, p.ID, alice.id, "master", "build", "success", "success")
	artArchive(t, a, second, "second\n")
	code, got = download("build", "")
	require.Equal(t, "second\n", got)

	// A newer successful pipeline without the job.
	artJob(t, a, p.ID, alice.id, "master", "lint", "success", "success")
	code, got = download("build", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, `{"message":"404 Not found"}`, got)
	code, got = download("build", "&search_recent_successful_pipelines=true")
	require.Equal(t, http.StatusOK, code, got)
	require.Equal(t, "second\n", got)
	code, got = download("nope", "&search_recent_successful_pipelines=true")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, `{"message":"404 Job Not Found"}`, got)
	code, got = download("build", "&search_recent_successful_pipelines=maybe")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"error":"search_recent_successful_pipelines is invalid"}`, got)

	// Expired archives are gone, but for the latest successful pipeline
	// of their ref, whose artifacts GitLab keeps.
	_, err := a.q.DB().Exec(ctx, `UPDATE job_artifacts SET expire_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	code, _ = download("build", "&search_recent_successful_pipelines=true")
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = artGet(t, a, fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", p.ID, second), map[string]string{"PRIVATE-TOKEN": alice.token})
	require.Equal(t, http.StatusNotFound, code)
	code, body, _ := artGet(t, a, fmt.Sprintf("/api/v4/projects/%d/jobs/%d/artifacts", p.ID, other), map[string]string{"PRIVATE-TOKEN": alice.token})
	require.Equal(t, http.StatusOK, code, "feature's latest successful pipeline keeps its artifacts: %s", body)
	latest := artJob(t, a, p.ID, alice.id, "master", "build", "success", "success")
	artArchive(t, a, latest, "latest\n")
	_, err = a.q.DB().Exec(ctx, `UPDATE job_artifacts SET expire_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	code, got = download("build", "")
	require.Equal(t, http.StatusOK, code, got)
	require.Equal(t, "latest\n", got)

	// Job entities show the archive (one query for a list).
	j, err := a.q.JobByID(ctx, p.ID, latest)
	require.NoError(t, err)
	bare, err := a.q.JobByID(ctx, p.ID, artJob(t, a, p.ID, alice.id, "other", "bare", "success", "success"))
	require.NoError(t, err)
	ents := []entity.Job{entity.NewJob("http://gitlab.test", j), entity.NewJob("http://gitlab.test", bare)}
	require.NoError(t, a.srv.jobEntitiesWithArtifacts(ctx, ents))
	require.NotNil(t, ents[0].ArtifactsFile)
	raw, err := json.Marshal(ents[0])
	require.NoError(t, err)
	size := fmt.Sprint(ents[0].ArtifactsFile.Size)
	require.Contains(t, string(raw), `"artifacts_file":{"filename":"artifacts.zip","size":`+size+`},"artifacts":[{"file_type":"archive","size":`+
		size+`,"filename":"artifacts.zip","file_format":"zip"}],"runner":null,"artifacts_expire_at":"`)
	raw, err = json.Marshal(ents[1])
	require.NoError(t, err)
	require.NotContains(t, string(raw), "artifacts_file")
	require.Contains(t, string(raw), `"artifacts":[],"runner":null,"artifacts_expire_at":null`)
}
