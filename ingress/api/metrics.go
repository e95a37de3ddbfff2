package api

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The API's metrics. They are process-wide, as the registry that serves
// them is: every Server in a process adds to the same series.
var (
	httpRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_ingress_http_requests_total",
		Help: "HTTP requests answered, by route template, method and status.",
	}, []string{"route", "method", "status"})
	httpDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "triggerd_ingress_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route template and method; a trigger's includes its wait for the pipeline.",
		// Up to past TRIGGER_WAIT's default (10 s), where sync triggers
		// turn into 202s.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
	}, []string{"route", "method"})
	triggersAccepted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_ingress_triggers_accepted_total",
		Help: "Trigger events stored in JetStream, by mode: sync (the answer waits for the pipeline) or async (202 at once).",
	}, []string{"mode"})
	acceptedSync  = triggersAccepted.WithLabelValues("sync")
	acceptedAsync = triggersAccepted.WithLabelValues("async")
)

// countAccepted counts a trigger event whose publication was acknowledged.
func countAccepted(async bool) {
	if async {
		acceptedAsync.Inc()
	} else {
		acceptedSync.Inc()
	}
}

// routeUnmatched labels requests no route matched (404s and 405s): their
// raw paths are unbounded.
const routeUnmatched = "unmatched"

// recordRoute is router middleware, run once a route matched: it tells the
// status writer the route's template, the label of the request's metrics.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sw, ok := w.(*statusWriter); ok {
			if tmpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				sw.route = tmpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// observeRequest counts one answered request. The label children are
// resolved once per route, method and status, so that a request costs two
// map reads, a short scan and two atomic adds, and allocates nothing.
func observeRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = routeUnmatched
	}
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	rs := routes.get(route, method)
	rs.duration.Observe(d.Seconds())
	rs.counter(status).Inc()
}

// knownMethods are the methods labelled as themselves; any other is
// "other", so that clients cannot mint series.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

type routeKey struct{ route, method string }

// routeTable holds each route and method's metrics. Reads are lock-free
// over an immutable map, replaced whole (under mu) when a pair is first
// seen; there are at most routes × methods pairs.
type routeTable struct {
	mu sync.Mutex
	m  atomic.Pointer[map[routeKey]*routeStats]
}

var routes routeTable

func (t *routeTable) get(route, method string) *routeStats {
	if m, ok := knownMethods[method]; ok {
		method = m
	} else {
		method = "other"
	}
	key := routeKey{route, method}
	if m := t.m.Load(); m != nil {
		if rs, ok := (*m)[key]; ok {
			return rs
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if rs, ok := (*old)[key]; ok {
			return rs
		}
	}
	next := make(map[routeKey]*routeStats, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	rs := &routeStats{route: route, method: method, duration: httpDuration.WithLabelValues(route, method)}
	next[key] = rs
	t.m.Store(&next)
	return rs
}

// routeStats are one route and method's metrics, with a counter per status
// seen so far.
type routeStats struct {
	route, method string
	duration      prometheus.Observer
	mu            sync.Mutex
	statuses      atomic.Pointer[[]statusCounter]
}

type statusCounter struct {
	status  int
	counter prometheus.Counter
}

func (rs *routeStats) counter(status int) prometheus.Counter {
	find := func(list *[]statusCounter) prometheus.Counter {
		if list == nil {
			return nil
		}
		for _, sc := range *list {
			if sc.status == status {
				return sc.counter
			}
		}
		return nil
	}
	if c := find(rs.statuses.Load()); c != nil {
		return c
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old := rs.statuses.Load()
	if c := find(old); c != nil {
		return c
	}
	var next []statusCounter
	if old != nil {
		next = slices.Clone(*old)
	}
	c := httpRequests.WithLabelValues(rs.route, rs.method, strconv.Itoa(status))
	next = append(next, statusCounter{status, c})
	rs.statuses.Store(&next)
	return c
}
