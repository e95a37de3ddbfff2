package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
)

const (
	// chunkBytes and chunkEvery bound how stale the live log may be.
	chunkBytes = 32 << 10
	chunkEvery = 500 * time.Millisecond
	// heartbeatEvery is how often a silent job still tells the dispatchers
	// its runner is alive (an empty chunk), well within JOB_STUCK_AFTER.
	heartbeatEvery = 15 * time.Second
	// maxTrace caps the whole log kept with the result, which travels in
	// one NATS message.
	maxTrace = 512 << 10
)

// tracer is the job's log: an io.Writer that keeps the whole log (up to
// maxTrace) and streams it in chunks to JOB_EVENTS as it grows.
type tracer struct {
	js  jetstream.JetStream
	p   event.JobPayload
	log *slog.Logger

	// flushing serialises flushes, so that chunks are published in order
	// and a chunk that failed is the next one sent again.
	flushing sync.Mutex
	mu       sync.Mutex
	buf      []byte // the whole log, capped
	sent     int    // bytes of buf already streamed
	// failed is the length of the chunk at sent whose publish failed: it
	// is sent again as it was (same bytes, same message id), since it may
	// have been stored even so.
	failed    int
	truncated bool
	lastSent  time.Time
	done      chan struct{}
	wg        sync.WaitGroup
}

func newTracer(js jetstream.JetStream, p event.JobPayload, log *slog.Logger) *tracer {
	t := &tracer{js: js, p: p, log: log, done: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(chunkEvery)
		defer tick.Stop()
		for {
			select {
			case <-t.done:
				return
			case <-tick.C:
				t.flush()
			}
		}
	}()
	return t
}

// Write appends to the log.
func (t *tracer) Write(b []byte) (int, error) {
	t.mu.Lock()
	room := maxTrace - len(t.buf)
	switch {
	case room <= 0:
		t.truncated = true
	case len(b) > room:
		t.buf = append(t.buf, b[:room]...)
		t.truncated = true
	default:
		t.buf = append(t.buf, b...)
	}
	full := len(t.buf)-t.sent >= chunkBytes
	t.mu.Unlock()
	if full {
		t.flush()
	}
	return len(b), nil
}

// flush streams what was written since the last chunk.
func (t *tracer) flush() {
	t.flushing.Lock()
	defer t.flushing.Unlock()
	t.mu.Lock()
	if t.sent == len(t.buf) && time.Since(t.lastSent) < heartbeatEvery {
		t.mu.Unlock()
		return
	}
	offset, data := t.sent, string(t.buf[t.sent:])
	if t.failed > 0 {
		data = string(t.buf[t.sent : t.sent+t.failed])
	}
	t.failed = 0
	t.sent = offset + len(data)
	t.lastSent = time.Now()
	t.mu.Unlock()
	ev := event.JobEvent{Type: event.JobEventTrace, JobID: t.p.JobID, PipelineID: t.p.PipelineID, ProjectID: t.p.ProjectID,
		Offset: int64(offset), Data: data}
	raw, _ := json.Marshal(ev)
	id := "trace-" + strconv.FormatInt(t.p.JobID, 10) + "-" + strconv.Itoa(offset) + "-" + strconv.Itoa(len(data))
	if data == "" {
		id += "-" + strconv.FormatInt(time.Now().UnixNano(), 10) // every heartbeat counts
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := t.js.Publish(ctx, event.JobEventSubject(t.p.ProjectID), raw, jetstream.WithMsgID(id)); err != nil {
		// Sent again from the same offset at the next tick: the
		// dispatchers append only where the log ends, so a chunk skipped
		// (NATS restarting) would stop the live log and, worse, every
		// later heartbeat, and the job would be failed as stuck.
		t.log.Debug("publish trace chunk", "err", err)
		t.mu.Lock()
		t.sent, t.failed, t.lastSent = offset, len(data), time.Time{}
		t.mu.Unlock()
	}
}

// final is the whole log, for the result.
func (t *tracer) final() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.truncated {
		return string(t.buf) + "\n[log truncated: the job wrote more than " + strconv.Itoa(maxTrace>>10) + " KiB]\n"
	}
	return string(t.buf)
}

func (t *tracer) close() {
	close(t.done)
	t.wg.Wait()
}
