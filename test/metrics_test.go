package test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/testenv"
)

// TestMetricsCountTheTriggerPath: with METRICS_ADDR set, each binary serves
// its operations endpoints on a listener of its own, and a trigger through
// the real API moves the ingress's request counter (labelled by route
// template), the dispatcher's pipelines-created counter for source
// "trigger", and the runner's jobs counter. pprof is there, and not on the
// public API.
func TestMetricsCountTheTriggerPath(t *testing.T) {
	t.Parallel()
	ingressOps := "127.0.0.1:" + strconv.Itoa(freePort(t))
	dispatcherOps := "127.0.0.1:" + strconv.Itoa(freePort(t))
	runnerOps := "127.0.0.1:" + strconv.Itoa(freePort(t))
	// Env reaches every process; the dispatcher and runner override it.
	s := startStack(t, stackOpts{Dispatchers: -1, Env: []string{"METRICS_ADDR=" + ingressOps}})
	s.StartDispatcher("METRICS_ADDR=" + dispatcherOps)
	s.Start("runner-sim-ops", "runner-sim", "RUNNER_NAME=runner-ops", "RUNNER_WORKDIR="+t.TempDir(), "METRICS_ADDR="+runnerOps)

	for _, addr := range []string{ingressOps, dispatcherOps, runnerOps} {
		waitOK(t, "http://"+addr+"/-/readiness")
		code, body := fetch(t, "http://"+addr+"/-/health")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "GitLab OK", body)
		code, body = fetch(t, "http://"+addr+"/-/readiness")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `"nats_check":[{"status":"ok"}]`, addr)
		code, _ = fetch(t, "http://"+addr+"/debug/pprof/goroutine?debug=1")
		require.Equal(t, http.StatusOK, code, addr)
	}
	code, _ := fetch(t, s.URL+"/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "pprof is never on the public listener")

	const route = "/api/v4/projects/{id}/trigger/pipeline"
	requests := fmt.Sprintf(`triggerd_ingress_http_requests_total{method="POST",route=%q,status="201"}`, route)
	accepted := `triggerd_ingress_triggers_accepted_total{mode="sync"}`
	created := `triggerd_dispatcher_pipelines_created_total{source="trigger"}`
	decided := `triggerd_dispatcher_trigger_events_total{outcome="created"}`
	succeeded := `triggerd_runner_jobs_total{status="success"}`
	ingressBefore := scrape(t, ingressOps)
	dispatcherBefore := scrape(t, dispatcherOps)
	runnerBefore := scrape(t, runnerOps)

	owner := s.CreateUser(t, "metrics")
	p := s.CreateProject(t, owner, "quick:\n  script:\n    - echo ok\n")
	tok := s.CreateTrigger(t, owner.Token, p.ID, "metrics")
	const n = 3
	var last int64
	for range n {
		r := s.TriggerPipeline(t, p.ID, tok.Token, "master", nil, nil)
		last = decode[pipelineJSON](t, r, http.StatusCreated).ID
	}
	// A trigger with a bad token is a 404 on the same route template.
	r := s.TriggerPipeline(t, p.ID, "glptt-0000000000000000000000000000000000000000", "master", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "success", s.WaitPipeline(t, owner.Token, p.ID, last).Status)

	ingress := scrape(t, ingressOps)
	require.Equal(t, float64(n), ingress[requests]-ingressBefore[requests], "201s counted under the route template")
	require.Equal(t, float64(n), ingress[accepted]-ingressBefore[accepted])
	require.GreaterOrEqual(t, ingress[fmt.Sprintf(`triggerd_ingress_http_requests_total{method="POST",route=%q,status="404"}`, route)], 1.0)
	require.GreaterOrEqual(t, ingress[`triggerd_ingress_publish_duration_seconds_count{result="stored"}`], float64(n))
	for series := range ingress {
		require.NotContains(t, series, fmt.Sprintf("/projects/%d/", p.ID), "no raw path in a label: %s", series)
	}

	dispatcher := scrape(t, dispatcherOps)
	require.Equal(t, float64(n), dispatcher[created]-dispatcherBefore[created])
	require.Equal(t, float64(n), dispatcher[decided]-dispatcherBefore[decided])
	require.Greater(t, dispatcher["triggerd_dispatcher_batch_size_count"], 0.0)
	require.Equal(t, 1.0, dispatcher[`triggerd_jetstream_consumer_up{consumer="dispatcher",stream="TRIGGERS"}`],
		"the consumer collector reads the dispatcher consumer's info")
	_, ok := dispatcher[`triggerd_jetstream_consumer_ack_pending_messages{consumer="dispatcher",stream="TRIGGERS"}`]
	require.True(t, ok)

	// The runner reports after the job's result is published, which may
	// come a moment after the pipeline is seen to succeed.
	eventually(t, 10*time.Second, "the runner to count its jobs", func() bool {
		return scrape(t, runnerOps)[succeeded]-runnerBefore[succeeded] == n
	})
}

// fetch GETs url and returns its status and body.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	code, _, body := testenv.Get(t, url)
	return code, body
}

// waitOK polls url until it answers 200.
func waitOK(t *testing.T, url string) {
	t.Helper()
	eventually(t, 30*time.Second, url+" to answer 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// scrape reads a metrics listener's /metrics into series → value, a series
// written as in the exposition format: name{label="value",…}, labels in
// the order Prometheus writes them (sorted).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	code, body := fetch(t, "http://"+addr+"/metrics")
	require.Equal(t, http.StatusOK, code)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "metrics line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "metrics line %q", line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}
