package api

import (
	"net/http"
	"strconv"

	"github.com/triggerd/triggerd/internal/broker"
)

// Backlog reports how many trigger events wait for a dispatcher. Depth is
// called on every trigger request, concurrently, so it must only read a
// value kept fresh elsewhere (broker.Backlog refreshes it in the
// background); known is false when the depth could not be read, and the
// request then goes ahead.
type Backlog interface {
	Depth() (n int64, known bool)
}

// queueRetryAfter is the Retry-After, in seconds, of a trigger refused
// because the queue is full. The queue drains at the dispatchers' pace,
// thousands of events a second, so a few seconds is enough for room to
// open while keeping refused clients from coming straight back.
const queueRetryAfter = 5

// errTooManyRequests is GitLab's 429 (API::Helpers#too_many_requests!).
var errTooManyRequests = messageError(http.StatusTooManyRequests, "429 Too Many Requests")

// queueFull reports whether the trigger queue is at its configured depth.
// It reads an atomic value: it never asks NATS.
func (s *Server) queueFull() bool {
	if s.cfg.MaxQueueDepth <= 0 || s.queue == nil {
		return false
	}
	n, known := s.queue.Depth()
	return known && n >= s.cfg.MaxQueueDepth
}

// tooManyRequests answers 429 with a Retry-After, as GitLab's
// too_many_requests! does.
func tooManyRequests(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", strconv.Itoa(queueRetryAfter))
	return errTooManyRequests
}

// publishRefusal turns a publish that JetStream refused for a reason the
// client can act on into its answer: 429 when the TRIGGERS stream is at its
// hard bound, 413 when the event is larger than a message may be. Other
// errors give nil: the caller answers 503.
func publishRefusal(w http.ResponseWriter, err error) error {
	switch {
	case broker.IsStreamFull(err):
		return tooManyRequests(w)
	case broker.IsTooLarge(err):
		return errTooLarge
	}
	return nil
}
