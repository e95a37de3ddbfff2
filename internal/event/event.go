// Package event is the wire format the service's processes exchange over
// NATS: the trigger events on the TRIGGERS stream, the outcome a dispatcher
// sends back to the ingress that waits for it, cache invalidations and job
// messages. Every message is JSON; field names are part of the contract
// between versions, so fields are only ever added.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

// Stream and subject names.
const (
	TriggersStream = "TRIGGERS"
	// TriggerSubjectPrefix is followed by the project id.
	TriggerSubjectPrefix = "triggers.requested."
	DispatcherConsumer   = "dispatcher"
	// ScheduledSubjectPrefix is followed by the project id: the
	// scheduler's events, in the same stream but taken by a consumer of
	// their own, so that a cron burst never queues ordinary triggers
	// behind thousands of schedule slots.
	ScheduledSubjectPrefix = "triggers.scheduled."
	ScheduledConsumer      = "dispatcher-scheduled"

	JobsStream = "JOBS"
	// JobSubjectPrefix is followed by the project id.
	JobSubjectPrefix = "jobs.pending."
	RunnerConsumer   = "runner"

	// OutcomeSubjectPrefix is followed by an ingress instance id and the
	// event id; each ingress subscribes to its own prefix.
	OutcomeSubjectPrefix = "trg.outcome."
	// InvalidateSubject carries cache invalidations to every ingress.
	InvalidateSubject = "trg.cache.invalidate"

	// DeadStream keeps trigger events that can never be decided: malformed,
	// or failing past the dispatcher's maximum deliveries. They wait there,
	// with their last error, to be inspected and replayed by an admin.
	DeadStream = "TRIGGERS_DEAD"
	// DeadSubjectPrefix is followed by the project id ("0" when unknown).
	DeadSubjectPrefix = "triggers.dead."

	// Header names.
	HeaderReplyTo = "Trg-Reply-To"
	// HeaderReplyBare on a trigger event asks for the outcome bare: its
	// body as the message's data and its status in HeaderStatus, so that
	// the ingress decodes nothing. Without it (an ingress that predates
	// it), the outcome is sent as JSON.
	HeaderReplyBare = "Trg-Reply-Bare"
	HeaderStatus    = "Trg-Status"
	// Headers of a dead letter: the last error, how often the event was
	// delivered, the subject it was published on and its first publication
	// (RFC 3339).
	HeaderDeadError      = "Trg-Dead-Error"
	HeaderDeadDeliveries = "Trg-Dead-Deliveries"
	HeaderDeadSubject    = "Trg-Dead-Subject"
	HeaderDeadPublished  = "Trg-Dead-Published"
)

// TriggerSubject is the subject a project's trigger events are published on.
func TriggerSubject(projectID int64) string {
	return TriggerSubjectPrefix + strconv.FormatInt(projectID, 10)
}

// ScheduledSubject is the subject the scheduler publishes a project's
// schedule slots on.
func ScheduledSubject(projectID int64) string {
	return ScheduledSubjectPrefix + strconv.FormatInt(projectID, 10)
}

// IsTriggerSubject tells whether subject is where trigger events of the
// project are published: ordinary ones or schedule slots.
func IsTriggerSubject(subject string, projectID int64) bool {
	return subject == TriggerSubject(projectID) || subject == ScheduledSubject(projectID)
}

// DeadSubject is the subject a project's dead trigger events are kept on.
func DeadSubject(projectID int64) string {
	return DeadSubjectPrefix + strconv.FormatInt(projectID, 10)
}

// JobSubject is the subject a project's runnable jobs are published on.
func JobSubject(projectID int64) string {
	return JobSubjectPrefix + strconv.FormatInt(projectID, 10)
}

// TriggerRequested asks a dispatcher to create a pipeline. The ingress has
// already checked the token and ref against its caches; the dispatcher checks
// again against the database, because either may have changed since.
type TriggerRequested struct {
	EventID   string `json:"event_id"`
	ProjectID int64  `json:"project_id"`
	Ref       string `json:"ref"`
	Source    string `json:"source"` // trigger, pipeline, schedule, api, webhook
	// TriggerID and TokenDigest identify the trigger token (source trigger).
	TriggerID   int64  `json:"trigger_id,omitempty"`
	TokenDigest []byte `json:"token_digest,omitempty"`
	// ScheduleID is the pipeline schedule that fired or was played (source
	// schedule); the schedule's owner is the pipeline's user.
	ScheduleID int64 `json:"schedule_id,omitempty"`
	// UpstreamJobID is the job whose CI job token made the request (source
	// pipeline).
	UpstreamJobID int64 `json:"upstream_job_id,omitempty"`
	// BridgeID is the bridge (trigger: job) whose fan-out this event is
	// (source pipeline, no token): the dispatcher authorises the bridge's
	// user, creates the downstream pipeline and links it to the bridge.
	BridgeID  int64            `json:"bridge_id,omitempty"`
	Variables []store.Variable `json:"variables,omitempty"`
	Inputs    json.RawMessage  `json:"inputs,omitempty"`
	// Payload is TRIGGER_PAYLOAD: the request's parameters without the token.
	Payload     json.RawMessage `json:"payload,omitempty"`
	RequestedAt time.Time       `json:"requested_at"`
}

// Outcome is a dispatcher's answer to one trigger event: 201 with the
// pipeline, or a GitLab error status and body. A dispatcher sends the
// pipeline rendered in Body (see Rendered), so that the ingress writes it
// as it is, without decoding and encoding it again; Pipeline is set on the
// outcomes the ingress reads from the database itself.
type Outcome struct {
	EventID  string          `json:"event_id"`
	Status   int             `json:"status"`
	Pipeline *store.Pipeline `json:"pipeline,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
}

// PipelineOutcome is the answer for an event that made pipeline pl: 201
// with it, or 422 with the config error when the pipeline was kept failed
// only to show why nothing ran.
func PipelineOutcome(pl store.Pipeline) Outcome {
	o := Outcome{Status: http.StatusCreated, Pipeline: &pl}
	if pl.EventID != nil {
		o.EventID = *pl.EventID
	}
	if pl.YAMLErrors != nil {
		body, _ := json.Marshal(map[string]any{"message": map[string][]string{"base": {*pl.YAMLErrors}}})
		o.Status, o.Pipeline, o.Body = http.StatusUnprocessableEntity, nil, body
	}
	return o
}

// Rendered is o with its pipeline, if it has one, in Body as GitLab's API
// shows it, linked under base (the external URL).
func (o Outcome) Rendered(base string) (Outcome, error) {
	if o.Pipeline == nil {
		return o, nil
	}
	body, err := EncodeJSON(entity.NewPipeline(base, *o.Pipeline))
	if err != nil {
		return o, err
	}
	o.Pipeline, o.Body = nil, body
	return o, nil
}

// Message is o as the reply to a trigger event that asked for it bare
// (HeaderReplyBare): its status in a header and its body, rendered (see
// Rendered), as the data.
func (o Outcome) Message(subject, base string) (*nats.Msg, error) {
	o, err := o.Rendered(base)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Header.Set(HeaderStatus, strconv.Itoa(o.Status))
	m.Data = o.Body
	return m, nil
}

// BareOutcome reads the outcome of event eventID from a reply sent by
// Message; ok is false if m is not one.
func BareOutcome(eventID string, m *nats.Msg) (o Outcome, ok bool) {
	status, err := strconv.Atoi(m.Header.Get(HeaderStatus))
	if err != nil || status < 100 || status > 599 {
		return Outcome{}, false
	}
	return Outcome{EventID: eventID, Status: status, Body: m.Data}, true
}

// EncodeJSON encodes v as the API answers: like json.Marshal, but without
// escaping &, < and > in strings, which GitLab does not do either.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// RejectionOutcome is the answer for an event the dispatcher refused.
func RejectionOutcome(r store.Rejection) Outcome {
	return Outcome{EventID: r.EventID, Status: r.Status, Body: r.Body}
}

// Invalidation tells ingress caches to forget entries.
type Invalidation struct {
	// TokenDigest is a trigger token that was created, changed or deleted.
	TokenDigest []byte `json:"token_digest,omitempty"`
	// ProjectID with Ref: a branch or tag of the project was created or
	// deleted. ProjectID alone: the project changed.
	ProjectID int64  `json:"project_id,omitempty"`
	Ref       string `json:"ref,omitempty"`
}

// Job is a runnable job on the JOBS stream.
type Job struct {
	JobID      int64 `json:"job_id"`
	PipelineID int64 `json:"pipeline_id"`
	ProjectID  int64 `json:"project_id"`
}

// JobMsgID is the deduplication id of a job's JOBS message, so re-publishing
// after a redelivered trigger event adds nothing.
func JobMsgID(jobID int64) string { return fmt.Sprintf("job-%d", jobID) }
