package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/event"
)

// Dead letters: trigger events a dispatcher gave up on (malformed, or
// failing past its maximum deliveries), kept with their last error in the
// dead-letter stream. Administrators list them and replay them once the
// cause is fixed. These routes are this service's own; GitLab has none.
func (s *Server) routesDeadLetters(r *mux.Router) {
	r.Handle("/admin/trigger_events/dead", s.handle(s.listDeadLetters)).Methods(http.MethodGet)
	r.Handle("/admin/trigger_events/dead/{seq:[0-9]+}", s.handle(s.getDeadLetter)).Methods(http.MethodGet)
	r.Handle("/admin/trigger_events/dead/{seq:[0-9]+}/replay", s.handle(s.replayDeadLetter)).Methods(http.MethodPost)
}

// deadLetterEntity is a dead letter as the API shows it.
type deadLetterEntity struct {
	ID         uint64 `json:"id"`
	EventID    string `json:"event_id,omitempty"`
	ProjectID  int64  `json:"project_id,omitempty"`
	Subject    string `json:"subject"`
	Error      string `json:"error"`
	Deliveries uint64 `json:"deliveries"`
	// PublishedAt is when the event was first published, DeadAt when the
	// dispatcher gave it up.
	PublishedAt *entity.Time `json:"published_at"`
	DeadAt      entity.Time  `json:"dead_at"`
	// Event is the event as published, when it is JSON; Payload its text
	// otherwise.
	Event   json.RawMessage `json:"event,omitempty"`
	Payload string          `json:"payload,omitempty"`
}

func newDeadLetterEntity(d broker.DeadLetter) deadLetterEntity {
	e := deadLetterEntity{ID: d.Seq, Subject: d.Subject, Error: d.Error, Deliveries: d.Deliveries, DeadAt: entity.TimeOf(d.DeadAt)}
	if !d.Published.IsZero() {
		e.PublishedAt = entity.TimePtr(&d.Published)
	}
	var ev event.TriggerRequested
	if json.Valid(d.Data) {
		e.Event = d.Data
		if json.Unmarshal(d.Data, &ev) == nil {
			e.EventID, e.ProjectID = ev.EventID, ev.ProjectID
		}
	} else {
		e.Payload = string(d.Data)
	}
	return e
}

// errNoDeadLetters answers when this ingress has no JetStream to read.
var errNoDeadLetters = messageError(http.StatusServiceUnavailable, "503 Service Unavailable - the dead-letter stream is not reachable")

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	if s.js == nil {
		return errNoDeadLetters
	}
	p := pageOf(r)
	total, err := broker.CountDeadLetters(r.Context(), s.js)
	if err != nil {
		return err
	}
	letters, err := broker.DeadLetters(r.Context(), s.js, p.Offset(), p.Limit())
	if err != nil {
		return err
	}
	out := make([]deadLetterEntity, len(letters))
	for i, d := range letters {
		out[i] = newDeadLetterEntity(d)
	}
	s.setPageHeaders(w, r, p, int(total))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deadLetter reads the dead letter the route names.
func (s *Server) deadLetter(r *http.Request) (broker.DeadLetter, error) {
	if _, err := s.requireAdmin(r); err != nil {
		return broker.DeadLetter{}, err
	}
	if s.js == nil {
		return broker.DeadLetter{}, errNoDeadLetters
	}
	seq, err := strconv.ParseUint(mux.Vars(r)["seq"], 10, 64)
	if err != nil || seq == 0 {
		return broker.DeadLetter{}, messageError(http.StatusNotFound, "404 Dead letter Not Found")
	}
	d, err := broker.GetDeadLetter(r.Context(), s.js, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return broker.DeadLetter{}, messageError(http.StatusNotFound, "404 Dead letter Not Found")
	}
	return d, err
}

func (s *Server) getDeadLetter(w http.ResponseWriter, r *http.Request) error {
	d, err := s.deadLetter(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newDeadLetterEntity(d))
	return nil
}

// replayDeadLetter queues the event again under its own event id, so a
// pipeline it did create is found rather than made twice, and answers 202
// with the status URL of the event.
func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) error {
	d, err := s.deadLetter(r)
	if err != nil {
		return err
	}
	e := newDeadLetterEntity(d)
	if e.EventID == "" || e.ProjectID == 0 || !event.IsTriggerSubject(d.Subject, e.ProjectID) {
		return messageError(http.StatusUnprocessableEntity, "422 Unprocessable Entity - the dead letter is not a trigger event: "+d.Error)
	}
	if err := broker.ReplayDeadLetter(r.Context(), s.js, d); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "dead letter replayed", "dead_letter", d.Seq, "event_id", e.EventID, "project_id", e.ProjectID,
		"dead_for", time.Since(d.DeadAt).Round(time.Second).String())
	u := s.statusURL(e.ProjectID, e.EventID)
	w.Header().Set("Location", u)
	writeJSON(w, http.StatusAccepted, acceptedBody{EventID: e.EventID, Status: "pending", StatusURL: u})
	return nil
}
