package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/triggerd/triggerd/internal/metrics"
	"github.com/triggerd/triggerd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// probe is a check whose answer the test sets.
type probe struct{ err error }

func (p *probe) check(name string) metrics.Check {
	return metrics.Check{Name: name, Failure: name + " down", Probe: func(context.Context) error { return p.err }}
}

func TestListenerServesOperationsEndpoints(t *testing.T) {
	db, broker := &probe{}, &probe{}
	l, err := metrics.Listen("127.0.0.1:0", slog.New(slog.DiscardHandler), db.check("db_check"), broker.check("nats_check"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Shutdown(context.Background())) })
	base := "http://" + l.Addr().String()

	code, hdr, body := testenv.Get(t, base+"/-/health")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "GitLab OK", body)
	require.Equal(t, "text/plain", hdr.Get("Content-Type"))

	code, hdr, body = testenv.Get(t, base+"/-/readiness")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.JSONEq(t, `{"status":"ok","db_check":[{"status":"ok"}],"nats_check":[{"status":"ok"}]}`, body)

	// One failing dependency makes the process unready, and says which.
	broker.err = errors.New("nats: connection closed to nats://secret-host:4222")
	code, _, body = testenv.Get(t, base+"/-/readiness")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.JSONEq(t, `{"status":"failed","db_check":[{"status":"ok"}],"nats_check":[{"status":"failed","message":"nats_check down"}]}`, body)
	require.NotContains(t, body, "secret-host", "a probe's error is not shown")
	broker.err = nil
	code, _, _ = testenv.Get(t, base+"/-/readiness")
	require.Equal(t, http.StatusOK, code)

	code, hdr, body = testenv.Get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, hdr.Get("Content-Type"), "text/plain")
	require.Contains(t, body, "go_goroutines ", "the Go collector is registered")
	require.Contains(t, body, "process_cpu_seconds_total ", "the process collector is registered")

	code, _, body = testenv.Get(t, base+"/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, _, _ = testenv.Get(t, base+"/debug/pprof/goroutine?debug=1")
	require.Equal(t, http.StatusOK, code)

	code, _, _ = testenv.Get(t, base+"/nothing-here")
	require.Equal(t, http.StatusNotFound, code)
	resp, err := http.Post(base+"/-/health", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestListenFailsOnATakenAddress(t *testing.T) {
	l, err := metrics.Listen("127.0.0.1:0", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Shutdown(context.Background())) })
	_, err = metrics.Listen(l.Addr().String(), slog.New(slog.DiscardHandler))
	require.Error(t, err)
}

func TestServeWithoutAddressServesNothing(t *testing.T) {
	stop, err := metrics.Serve("", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	stop()
}

func TestNATSCheckFollowsTheConnection(t *testing.T) {
	nc, _ := testenv.JetStream(t)
	check := metrics.NATSCheck(nc)
	require.Equal(t, "nats_check", check.Name)
	require.NoError(t, check.Probe(context.Background()))
	nc.Close()
	require.Error(t, check.Probe(context.Background()))
}

func TestConsumerCollectorReadsBacklogAtScrape(t *testing.T) {
	nc, js := testenv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}})
	require.NoError(t, err)
	cons, err := js.CreateOrUpdateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	for range 3 {
		_, err := js.Publish(ctx, "work.a", []byte("x"))
		require.NoError(t, err)
	}
	// Deliver one and leave it unacknowledged.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	for range batch.Messages() {
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewConsumerCollector(time.Second, cons))
	want := `
# HELP triggerd_jetstream_consumer_ack_pending_messages Messages delivered and not yet acknowledged.
# TYPE triggerd_jetstream_consumer_ack_pending_messages gauge
triggerd_jetstream_consumer_ack_pending_messages{consumer="workers",stream="WORK"} 1
# HELP triggerd_jetstream_consumer_pending_messages Messages in the stream that the consumer has not delivered yet.
# TYPE triggerd_jetstream_consumer_pending_messages gauge
triggerd_jetstream_consumer_pending_messages{consumer="workers",stream="WORK"} 2
# HELP triggerd_jetstream_consumer_up 1 when the consumer's info was read at this scrape, 0 when it could not be.
# TYPE triggerd_jetstream_consumer_up gauge
triggerd_jetstream_consumer_up{consumer="workers",stream="WORK"} 1
`
	// The server updates a consumer's counts a moment after a delivery: a
	// scrape right away may still see the old ones.
	var scraped error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		scraped = testutil.GatherAndCompare(reg, strings.NewReader(want),
			"triggerd_jetstream_consumer_pending_messages", "triggerd_jetstream_consumer_ack_pending_messages", "triggerd_jetstream_consumer_up")
		if scraped == nil || time.Now().After(deadline) {
			break
		}
	}
	require.NoError(t, scraped)

	// Without a server the scrape still answers, and says so.
	nc.Close()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var up []float64
	for _, mf := range mfs {
		require.NotEqual(t, "triggerd_jetstream_consumer_pending_messages", mf.GetName(), "no stale backlog is reported")
		if mf.GetName() == "triggerd_jetstream_consumer_up" {
			for _, m := range mf.GetMetric() {
				up = append(up, m.GetGauge().GetValue())
			}
		}
	}
	require.Equal(t, []float64{0}, up)
}

// The readiness body is GitLab's shape: a status and one list per check.
func TestReadinessShape(t *testing.T) {
	rec := &recorder{header: http.Header{}}
	metrics.Readiness().ServeHTTP(rec, &http.Request{})
	require.Equal(t, http.StatusOK, rec.code)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.body, &body))
	require.Equal(t, map[string]any{"status": "ok"}, body)
}

type recorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { r.body = append(r.body, b...); return len(b), nil }
