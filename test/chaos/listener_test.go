package chaos

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// doneKey is one report of a job that ran its script to the end.
type doneKey struct {
	JobID      int64
	PipelineID int64
	Name       string
}

// listener counts the completion reports jobs send as the last line of
// their script: POST /done/<job id>/<pipeline id>/<job name>.
type listener struct {
	URL string
	mu  sync.Mutex
	n   map[doneKey]int
}

func startListener(t *testing.T) *listener {
	t.Helper()
	l := &listener{n: map[doneKey]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listener: %v", err)
	}
	l.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: l}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/done/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 {
		http.Error(w, "POST /done/<job>/<pipeline>/<name>", http.StatusBadRequest)
		return
	}
	job, err1 := strconv.ParseInt(parts[0], 10, 64)
	pl, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		http.Error(w, "bad ids", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.n[doneKey{JobID: job, PipelineID: pl, Name: parts[2]}]++
	l.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// reports is a copy of the counts so far.
func (l *listener) reports() map[doneKey]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[doneKey]int, len(l.n))
	for k, v := range l.n {
		m[k] = v
	}
	return m
}
