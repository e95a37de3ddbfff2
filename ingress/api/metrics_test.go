package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestRequestMetricsUseRouteTemplates(t *testing.T) {
	a := newTestAPI(t)
	missing := httpRequests.WithLabelValues("/api/v4/projects/{id}", "GET", "404")
	unmatched := httpRequests.WithLabelValues(routeUnmatched, "GET", "404")
	ready := httpRequests.WithLabelValues("/-/readiness", "GET", "200")
	before := []float64{testutil.ToFloat64(missing), testutil.ToFloat64(unmatched), testutil.ToFloat64(ready)}

	code, _, _ := a.do(http.MethodGet, "/api/v4/projects/987654321", a.admin, "", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = a.do(http.MethodGet, "/no/such/path/4242", "", "", "")
	require.Equal(t, http.StatusNotFound, code)
	code, body, _ := a.do(http.MethodGet, "/-/readiness", "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"ok","db_check":[{"status":"ok"}]}`, body)

	require.Equal(t, before[0]+1, testutil.ToFloat64(missing))
	require.Equal(t, before[1]+1, testutil.ToFloat64(unmatched))
	require.Equal(t, before[2]+1, testutil.ToFloat64(ready))

	// No label carries a raw path or an id.
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "triggerd_ingress_http_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, l.GetValue(), "987654321")
				require.NotContains(t, l.GetValue(), "4242")
			}
		}
	}
}

func TestPprofIsNotOnThePublicListener(t *testing.T) {
	a := newTestAPI(t)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine", "/metrics"} {
		code, _, _ := a.do(http.MethodGet, path, "", "", "")
		require.Equal(t, http.StatusNotFound, code, path)
	}
}

func TestObserveRequestAllocatesNothing(t *testing.T) {
	observeRequest("/api/v4/projects/{id}/trigger/pipeline", "POST", 201, time.Millisecond) // resolve once
	allocs := testing.AllocsPerRun(1000, func() {
		observeRequest("/api/v4/projects/{id}/trigger/pipeline", "POST", 201, time.Millisecond)
	})
	require.Zero(t, allocs)
}

func TestUnknownMethodsShareOneLabel(t *testing.T) {
	require.Same(t, routes.get("/x", "BREW"), routes.get("/x", "PROPFIND"))
	require.Equal(t, "other", routes.get("/x", "BREW").method)
}

func BenchmarkObserveRequest(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			observeRequest("/api/v4/projects/{id}/trigger/pipeline", "POST", 201, time.Millisecond)
		}
	})
}
