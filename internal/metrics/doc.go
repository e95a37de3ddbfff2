// Package metrics serves a binary's operations endpoints on a listener of
// its own (METRICS_ADDR), apart from the public API: Prometheus metrics at
// GET /metrics, GitLab's GET /-/health and GET /-/readiness, and
// net/http/pprof under /debug/pprof/.
//
// The metrics themselves live next to the code they measure and register
// with Prometheus's default registry, which also holds the Go runtime and
// process collectors. Metric names start with triggerd_ and carry only
// labels of low cardinality: route templates, statuses, outcomes, sources;
// never a raw path, a project id or an event id.
//
// pprof is served here and only here: whoever reaches this listener can
// read goroutine stacks and profiles, so it belongs on a private address
// (loopback, or a pod port that only Prometheus scrapes), never on the
// ingress's public listener.
package metrics
