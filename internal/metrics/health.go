package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
)

// Check is one dependency a readiness answer reports on.
type Check struct {
	// Name is the check's key in the answer, named as GitLab names its
	// own ("db_check").
	Name string
	// Probe returns nil while the dependency is usable. It is called on
	// every readiness request, with a context bounded by ReadinessTimeout,
	// and must be safe for concurrent use.
	Probe func(context.Context) error
	// Failure is the message shown when Probe fails. The probe's error is
	// not shown: it may name hosts and users.
	Failure string
}

// ReadinessTimeout bounds all of one readiness answer's probes together.
const ReadinessTimeout = 2 * time.Second

// Pinger is a database pool, such as *pgxpool.Pool.
type Pinger interface {
	Ping(context.Context) error
}

// PostgresCheck is ready while the pool can reach Postgres.
func PostgresCheck(db Pinger) Check {
	return Check{Name: "db_check", Probe: db.Ping, Failure: "database unreachable"}
}

// NATSCheck is ready while the connection to NATS is up; it asks the
// connection's state and sends nothing.
func NATSCheck(nc *nats.Conn) Check {
	return Check{Name: "nats_check", Failure: "nats unreachable", Probe: func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return errors.New("nats connection " + s.String())
		}
		return nil
	}}
}

// Health answers as GitLab's /-/health: 200 "GitLab OK" while the process
// serves HTTP at all. It checks no dependency, so that a liveness probe
// does not restart a process whose database is down.
func Health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("GitLab OK"))
}

// Readiness answers as GitLab's /-/readiness: 200 with {"status":"ok"} and
// each check's status when every check passes, 503 with "failed" and the
// failing checks' messages otherwise.
func Readiness(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadinessTimeout)
		defer cancel()
		body := make(map[string]any, len(checks)+1)
		status, code := "ok", http.StatusOK
		for _, c := range checks {
			result := map[string]string{"status": "ok"}
			if err := c.Probe(ctx); err != nil {
				result = map[string]string{"status": "failed", "message": c.Failure}
				status, code = "failed", http.StatusServiceUnavailable
			}
			body[c.Name] = []map[string]string{result}
		}
		body["status"] = status
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(body)
	})
}
