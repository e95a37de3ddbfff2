package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/conf"
	"github.com/triggerd/triggerd/internal/metrics"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// Config is what the API needs besides its dependencies.
type Config struct {
	// ExternalURL is where users reach the service, for web_url fields.
	ExternalURL string
	// TriggerWait bounds how long a trigger request waits for the
	// dispatcher before answering 202.
	TriggerWait time.Duration
	// VariableLimits bound the variables of one trigger request.
	VariableLimits VariableLimits
	// MaxQueueDepth is how many trigger events may wait for a dispatcher
	// before trigger requests are answered 429 (0: no limit). It needs
	// Deps.Backlog.
	MaxQueueDepth int64
}

// Deps are the API's collaborators, built by the ingress's run function.
type Deps struct {
	Log       *slog.Logger
	Pool      *pgxpool.Pool
	Sealer    *secret.Sealer
	Publisher Publisher
	Caches    *Caches
	// JetStream reads and replays dead letters; without it those routes
	// answer 503.
	JetStream jetstream.JetStream
	// Backlog tells how many trigger events wait; nil means never hold
	// trigger requests back.
	Backlog Backlog
}

// Server serves the API. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	q      *store.Queries
	sealer *secret.Sealer
	pub    Publisher
	caches *Caches
	js     jetstream.JetStream
	queue  Backlog
	router *mux.Router
}

// New builds the server and its routes.
func New(cfg Config, d Deps) *Server {
	cfg.ExternalURL = strings.TrimSuffix(cfg.ExternalURL, "/")
	if cfg.TriggerWait <= 0 {
		cfg.TriggerWait = 10 * time.Second
	}
	s := &Server{
		cfg: cfg, log: d.Log, pool: d.Pool, q: store.New(d.Pool), sealer: d.Sealer,
		pub: d.Publisher, caches: d.Caches, js: d.JetStream, queue: d.Backlog,
	}
	s.router = s.routes()
	return s
}

// ServeHTTP runs the middleware chain and the router.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" || len(reqID) > 128 {
		reqID = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", reqID)
	// Every line logged with the request's context shows its id.
	r = r.WithContext(conf.WithRequestID(r.Context(), reqID))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(r.Context(), "panic serving request", "path", redactedPath(r),
				"panic", v, "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeJSON(sw, http.StatusInternalServerError, map[string]string{"message": "500 Internal Server Error"})
			}
		}
		elapsed := time.Since(start)
		observeRequest(sw.route, r.Method, sw.status, elapsed)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("path", redactedPath(r)),
			slog.Int("status", sw.status), slog.Duration("duration", elapsed))
	}()
	s.router.ServeHTTP(sw, r)
}

// statusWriter remembers the status written, for the access log and the
// metrics, and the matched route's template (set by recordRoute).
type statusWriter struct {
	http.ResponseWriter
	status int
	route  string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// handlerFunc is an endpoint that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := wellFormedPath(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	// Encoded paths keep %2F inside one path segment, so that
	// group%2Fproject and feature%2Fx are single variables.
	r.UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "405 Method Not Allowed"})
	})
	r.PathPrefix("/api/v3").Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusGone, map[string]string{"error": "API V3 is no longer supported. Use API V4 instead."})
	}))
	r.Use(recordRoute)
	r.HandleFunc("/-/health", metrics.Health).Methods(http.MethodGet)
	// The public readiness checks the database, as it always has; the
	// metrics listener's checks NATS too.
	r.Handle("/-/readiness", metrics.Readiness(metrics.PostgresCheck(s.pool))).Methods(http.MethodGet)

	v4 := r.PathPrefix("/api/v4").Subrouter()
	s.routesTrigger(v4)
	s.routesTriggerTokens(v4)
	s.routesPipelines(v4)
	s.routesArtifacts(v4)
	s.routesPipelineActions(v4)
	s.routesSchedulePlay(v4)
	s.routesSchedules(v4)
	s.routesUsers(v4)
	s.routesProjects(v4)
	s.routesRepository(v4)
	s.routesDeadLetters(v4)
	return r
}

// pathVar returns a route variable, URL-decoded (the router matches on the
// encoded path).
func pathVar(r *http.Request, name string) string {
	v := mux.Vars(r)[name]
	if dec, err := url.PathUnescape(v); err == nil {
		return dec
	}
	return v
}

var secretParam = regexp.MustCompile(`(?i)((?:^|&)(?:token|private_token|job_token|access_token)=)[^&]*`)

// redactedPath is the request's path and query with every token parameter
// replaced, safe for a log line.
func redactedPath(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return r.URL.EscapedPath()
	}
	return r.URL.EscapedPath() + "?" + secretParam.ReplaceAllString(r.URL.RawQuery, "${1}[FILTERED]")
}
