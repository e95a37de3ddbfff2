package test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/testenv"
)

// producerCI is project A's pipeline: a job that keeps a file as its
// artifacts.
const producerCI = `build:
  script:
    - echo hello > out.txt
    - mkdir -p reports/unit && echo '<xml/>' > reports/unit/junit.xml
  artifacts:
    paths:
      - out.txt
      - reports/**/*.xml
      - missing.txt
`

// TestArtifactsAcrossProjects is the docs' "When a pipeline depends on the
// artifacts of another pipeline": project A's job keeps out.txt as an
// artifact; project B's job downloads A's latest artifacts of master with
// $CI_JOB_TOKEN, unzips them and prints the file. Without B on A's inbound
// allowlist the download is a 404 and B's job fails.
func TestArtifactsAcrossProjects(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "arts")
	a := s.CreateProject(t, owner, producerCI)
	b := s.CreateProject(t, owner, fmt.Sprintf(`fetch:
  script:
    - curl --fail --location --output artifacts.zip "$CI_API_V4_URL/projects/%d/jobs/artifacts/master/download?job=build&job_token=$CI_JOB_TOKEN"
    - unzip artifacts.zip
    - cat out.txt
`, a.ID))
	tokA := s.CreateTrigger(t, owner.Token, a.ID, "a").Token
	tokB := s.CreateTrigger(t, owner.Token, b.ID, "b").Token

	// A's job uploads its artifacts, as GitLab Runner reports it.
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, a.ID, tokA, "master", nil, nil), http.StatusCreated)
	require.Equal(t, "success", s.WaitPipeline(t, owner.Token, a.ID, created.ID).Status)
	jobs := s.PipelineJobs(t, owner.Token, a.ID, created.ID)
	require.Len(t, jobs, 1)
	build := jobs[0]
	tr := s.trace(t, owner.Token, a.ID, build.ID)
	require.Contains(t, tr, "Uploading artifacts for successful job\nUploading artifacts...\n")
	require.Contains(t, tr, "out.txt: found 1 matching artifact files and directories\n")
	require.Contains(t, tr, "reports/**/*.xml: found 1 matching artifact files and directories\n")
	require.Contains(t, tr, "WARNING: missing.txt: no matching files.")
	require.Contains(t, tr, `Uploading artifacts as "archive" to coordinator... 201 Created`)
	require.Less(t, strings.Index(tr, "Uploading artifacts..."), strings.Index(tr, "Job succeeded"))

	// Stored in Postgres, with GitLab's default expiry, and gone from the
	// object store.
	var size int64
	var expireAt time.Time
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT size, expire_at FROM job_artifacts WHERE job_id = $1`, build.ID).Scan(&size, &expireAt))
	require.Positive(t, size)
	require.WithinDuration(t, time.Now().Add(30*24*time.Hour), expireAt, time.Hour)
	_, js := testenv.JetStreamAt(t, s.NATSURL)
	eventually(t, 10*time.Second, "the artifacts object to be deleted", func() bool {
		obs, err := js.ObjectStore(context.Background(), broker.ArtifactsBucket)
		require.NoError(t, err)
		_, err = obs.GetInfo(context.Background(), broker.ArtifactsObjectName(build.ID))
		return errors.Is(err, jetstream.ErrObjectNotFound)
	})

	// The owner downloads them by ref and by job id.
	for _, path := range []string{
		fmt.Sprintf("/projects/%d/jobs/artifacts/master/download?job=build", a.ID),
		fmt.Sprintf("/projects/%s/jobs/artifacts/master/download?job=build", a.Enc),
		fmt.Sprintf("/projects/%d/jobs/%d/artifacts", a.ID, build.ID),
	} {
		r := s.Get(t, path, owner.Token)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
		require.Equal(t, "application/zip", r.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="artifacts.zip"`, r.Header.Get("Content-Disposition"))
		require.Equal(t, map[string]string{"out.txt": "hello\n", "reports/unit/junit.xml": "<xml/>\n"}, unzipAll(t, r.Body))
	}
	r := s.Get(t, fmt.Sprintf("/projects/%d/jobs/artifacts/master/download?job=nope", a.ID), owner.Token)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, `{"message":"404 Not found"}`, r.Text())

	// B is not on A's inbound allowlist: the download is a 404, curl
	// --fail fails the job.
	created = decode[pipelineJSON](t, s.TriggerPipeline(t, b.ID, tokB, "master", nil, nil), http.StatusCreated)
	require.Equal(t, "failed", s.WaitPipeline(t, owner.Token, b.ID, created.ID).Status)
	fetch := s.PipelineJobs(t, owner.Token, b.ID, created.ID)[0]
	tr = s.trace(t, owner.Token, b.ID, fetch.ID)
	require.Contains(t, tr, "404")
	require.NotContains(t, tr, "\nhello\n")

	// With B on A's allowlist, B's job gets A's artifacts.
	r = s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/job_token_scope/allowlist", a.ID), owner.Token,
		url.Values{"target_project_id": {fmt.Sprint(b.ID)}})
	require.Equal(t, http.StatusCreated, r.Status, r.Text())
	created = decode[pipelineJSON](t, s.TriggerPipeline(t, b.ID, tokB, "master", nil, nil), http.StatusCreated)
	pl := s.WaitPipeline(t, owner.Token, b.ID, created.ID)
	fetch = s.PipelineJobs(t, owner.Token, b.ID, created.ID)[0]
	tr = s.trace(t, owner.Token, b.ID, fetch.ID)
	require.Equal(t, "success", pl.Status, "trace:\n%s", tr)
	require.Contains(t, tr, "$ cat out.txt\nhello\n")

	// The job token died with B's job.
	r = s.Do(t, call{Method: http.MethodGet, Path: fmt.Sprintf("/projects/%d/jobs/%d/artifacts", a.ID, build.ID),
		Header: map[string]string{"JOB-TOKEN": "glcbt-" + strings.Repeat("0", 40)}})
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, `{"message":"401 Unauthorized"}`, r.Text())
}

// TestArtifactsWhen: artifacts:when decides after which outcome a job
// uploads; expire_in sets the archive's expiry; a directory is archived
// whole. (The size cap is covered by the runner's own tests.)
func TestArtifactsWhen(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{Runners: 1})
	owner := s.CreateUser(t, "artw")
	p := s.CreateProject(t, owner, `stages: [test]
fails_keeps:
  script:
    - echo report > report.txt
    - exit 2
  allow_failure: true
  artifacts:
    when: on_failure
    expire_in: 2 hrs 30 min
    paths: [report.txt]
fails_drops:
  script:
    - echo report > report.txt
    - exit 2
  allow_failure: true
  artifacts:
    paths: [report.txt]
dir:
  script:
    - mkdir -p dist/sub && echo a > dist/a.txt && echo b > dist/sub/b.txt
  artifacts:
    when: always
    expire_in: never
    paths: [dist/]
`)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "w").Token
	created := decode[pipelineJSON](t, s.TriggerPipeline(t, p.ID, tok, "master", nil, nil), http.StatusCreated)
	s.WaitPipeline(t, owner.Token, p.ID, created.ID)
	byName := map[string]jobJSON{}
	for _, j := range s.PipelineJobs(t, owner.Token, p.ID, created.ID) {
		byName[j.Name] = j
	}
	has := func(name string) bool {
		var n int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM job_artifacts WHERE job_id = $1`, byName[name].ID).Scan(&n))
		return n == 1
	}
	require.True(t, has("fails_keeps"))
	var expireIn time.Duration
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT EXTRACT(EPOCH FROM expire_at - created_at)::bigint * 1000000000
		FROM job_artifacts WHERE job_id = $1`, byName["fails_keeps"].ID).Scan(&expireIn))
	require.InDelta(t, (150 * time.Minute).Seconds(), expireIn.Seconds(), 5)
	require.False(t, has("fails_drops"))
	require.NotContains(t, s.trace(t, owner.Token, p.ID, byName["fails_drops"].ID), "Uploading artifacts")

	// A failed job's archive is downloadable by its job id.
	r := s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d/artifacts", p.ID, byName["fails_keeps"].ID), owner.Token)
	require.Equal(t, http.StatusOK, r.Status, r.Text())
	require.Equal(t, map[string]string{"report.txt": "report\n"}, unzipAll(t, r.Body))
	r = s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d/artifacts", p.ID, byName["fails_drops"].ID), owner.Token)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, `{"message":"404 Not Found"}`, r.Text())
	r = s.Get(t, fmt.Sprintf("/projects/%d/jobs/%d/artifacts", p.ID, 999999999), owner.Token)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, `{"message":"404 Not found"}`, r.Text())

	// A directory comes whole; expire_in: never keeps it forever.
	require.True(t, has("dir"))
	var never bool
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT expire_at IS NULL FROM job_artifacts WHERE job_id = $1`,
		byName["dir"].ID).Scan(&never))
	require.True(t, never)
	require.Contains(t, s.trace(t, owner.Token, p.ID, byName["dir"].ID), "dist/: found 4 matching artifact files and directories")
	r = s.Get(t, fmt.Sprintf("/projects/%d/jobs/artifacts/master/download?job=dir", p.ID), owner.Token)
	require.Equal(t, http.StatusOK, r.Status, r.Text())
	require.Equal(t, map[string]string{"dist/": "", "dist/a.txt": "a\n", "dist/sub/": "", "dist/sub/b.txt": "b\n"}, unzipAll(t, r.Body))
}

// unzipAll reads a zip archive into name -> content (directories with a
// trailing slash and no content).
func unzipAll(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		content, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		out[f.Name] = string(content)
	}
	return out
}
