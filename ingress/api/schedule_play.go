package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

func (s *Server) routesSchedulePlay(r *mux.Router) {
	r.Handle("/projects/{id}/pipeline_schedules/{pipeline_schedule_id}/play", s.handle(s.playSchedule)).Methods(http.MethodPost)
}

// playSchedule runs a pipeline schedule now, as GitLab's play does: the run
// is queued (a durable trigger event with source schedule) and the answer is
// 201 {"message":"201 Created"}; the dispatcher creates the pipeline as the
// schedule's owner, or records on the schedule why it could not.
func (s *Server) playSchedule(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireUser(r); err != nil {
		return err
	}
	id, err := idParam(r, "pipeline_schedule_id")
	if err != nil {
		return err
	}
	pa, err := s.project(r, store.Developer)
	if err != nil {
		return err
	}
	sched, err := s.q.ScheduleByID(r.Context(), pa.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Pipeline Schedule")
	}
	if err != nil {
		return err
	}
	ev := &event.TriggerRequested{
		EventID: strings.ReplaceAll(uuid.NewString(), "-", ""), ProjectID: pa.Project.ID, Ref: sched.Ref,
		Source: "schedule", ScheduleID: sched.ID, RequestedAt: time.Now().UTC(),
	}
	if _, err := s.pub.PublishTrigger(r.Context(), ev); err != nil {
		s.log.ErrorContext(r.Context(), "publish schedule run", "schedule_id", sched.ID, "err", err)
		return messageError(http.StatusServiceUnavailable, "503 Service Unavailable - the run could not be queued; retry")
	}
	writeJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
	return nil
}
