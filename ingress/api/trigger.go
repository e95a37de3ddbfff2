package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

func (s *Server) routesTrigger(r *mux.Router) {
	r.Handle("/projects/{id}/trigger/pipeline", s.handle(s.triggerPipeline)).Methods(http.MethodPost)
	// GitLab's route takes any ref here, slashes included; an encoded
	// feature%2Fx matches too because the router works on encoded paths.
	r.Handle("/projects/{id}/ref/{ref:.+}/trigger/pipeline", s.handle(s.triggerPipeline)).Methods(http.MethodPost)
	r.Handle("/projects/{id}/trigger/events/{event_id}", s.handle(s.triggerEvent)).Methods(http.MethodGet)
}

// wellFormedPath is errMalformed, as GitLab answers it, for a path whose
// variables decode to invalid UTF-8 or hold a NUL byte (a project path or
// ref of %87 or %00), which Postgres would refuse as a 500. Every route
// checks it (see handle).
func wellFormedPath(r *http.Request) error {
	for _, v := range mux.Vars(r) {
		if dec, err := url.PathUnescape(v); err != nil || malformedString(dec) {
			return errMalformed
		}
	}
	return nil
}

// triggerRequest is a validated trigger call.
type triggerRequest struct {
	token     string
	ref       string
	variables []store.Variable
	inputs    json.RawMessage
	payload   json.RawMessage
}

// parseTrigger validates a trigger call's parameters in GitLab's order:
// Grape's declared-parameter checks (ref, token, variables) with their
// messages joined as Grape joins them, then the variables' values, then
// the variables against GitLab's key rules and lim.
func parseTrigger(p params, pathRef string, lim VariableLimits) (triggerRequest, error) {
	var req triggerRequest
	var problems []string
	if pathRef != "" {
		p["ref"] = pathRef
	}
	switch {
	case !p.has("ref") || p["ref"] == nil:
		problems = append(problems, "ref is missing")
	default:
		ref, ok := p.str("ref")
		switch {
		case !ok:
			problems = append(problems, "ref is invalid")
		case strings.TrimSpace(ref) == "":
			problems = append(problems, "ref is empty")
		default:
			req.ref = ref
		}
	}
	if !p.has("token") || p["token"] == nil {
		problems = append(problems, "token is missing")
	} else if tok, ok := p.str("token"); !ok {
		problems = append(problems, "token is invalid")
	} else {
		req.token = tok
	}
	vars, hasVars := p["variables"]
	varMap, isMap := vars.(map[string]any)
	if hasVars && vars != nil && !isMap {
		problems = append(problems, "variables is invalid")
	}
	if inputs, ok := p["inputs"]; ok && inputs != nil {
		if _, isMap := inputs.(map[string]any); !isMap {
			problems = append(problems, "inputs is invalid")
		} else {
			req.inputs, _ = json.Marshal(inputs)
		}
	}
	if len(problems) > 0 {
		return req, paramError(strings.Join(problems, ", "))
	}

	vs, err := triggerVariables(varMap, lim)
	if err != nil {
		return req, err
	}
	req.variables = vs

	// TRIGGER_PAYLOAD is the request's parameters without the token.
	rest := make(map[string]any, len(p))
	for k, v := range p {
		if k != "token" {
			rest[k] = v
		}
	}
	req.payload, _ = json.Marshal(rest)
	return req, nil
}

// eventID derives the event id: from the client's idempotency key when it
// sent one (scoped to the project, so two projects' keys never collide), a
// fresh random id otherwise.
func eventID(r *http.Request, projectID int64) string {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("X-Gitlab-Event-UUID")
	}
	if key == "" {
		key = r.Header.Get("X-GitHub-Delivery")
	}
	if key == "" {
		return strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(projectID, 10) + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// wantsAsync reports whether the client asked for 202 right after the
// durable publish.
func wantsAsync(r *http.Request) bool {
	if v := r.URL.Query().Get("async"); v == "true" || v == "1" {
		return true
	}
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "respond-async") {
				return true
			}
		}
	}
	return false
}

func (s *Server) triggerPipeline(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// Shed load before any work while the dispatchers are behind: the
	// queue would only grow, in JetStream and in waiting requests.
	if s.queueFull() {
		return tooManyRequests(w)
	}
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	pathRef := ""
	if _, ok := mux.Vars(r)["ref"]; ok {
		pathRef = pathVar(r, "ref")
	}
	req, err := parseTrigger(p, pathRef, s.cfg.VariableLimits)
	if err != nil {
		return err
	}
	// A pipeline hook calling the trigger API would loop forever.
	if r.Header.Get("X-Gitlab-Event") == "Pipeline Hook" {
		return errForbidden
	}
	project, err := s.caches.Project(ctx, s.q, pathVar(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}

	ev := &event.TriggerRequested{
		ProjectID: project.ID, Ref: req.ref, Variables: req.variables, Inputs: req.inputs,
		Payload: req.payload, RequestedAt: time.Now().UTC(),
	}
	if err := s.authenticateTrigger(ctx, project, req.token, ev); err != nil {
		return err
	}
	if err := s.checkRef(ctx, project.ID, req.ref); err != nil {
		return err
	}
	ev.EventID = eventID(r, project.ID)
	return s.publishAndWait(w, r, project, ev)
}

// authenticateTrigger checks the token against the caches and fills in who
// is triggering: a trigger token of this project, or the CI job token of a
// running job allowed into this project.
func (s *Server) authenticateTrigger(ctx context.Context, project store.Project, token string, ev *event.TriggerRequested) error {
	if token == "" {
		return errNotFound
	}
	digest := secret.Digest(token)
	if strings.HasPrefix(token, secret.JobPrefix) {
		return s.authenticateJobToken(ctx, project, digest, ev)
	}
	t, err := s.caches.Trigger(ctx, s.q, digest)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if t.ProjectID != project.ID || t.Expired(time.Now()) {
		return errNotFound
	}
	ev.Source = "trigger"
	ev.TriggerID = t.ID
	ev.TokenDigest = digest
	return nil
}

// authenticateJobToken admits a CI job token while its job runs, into its own
// project or a project whose inbound allowlist names the job's project.
func (s *Server) authenticateJobToken(ctx context.Context, project store.Project, digest []byte, ev *event.TriggerRequested) error {
	job, err := s.runningJobOfToken(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	ok, err := s.jobTokenReaches(ctx, job, project.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound
	}
	if level, signedIn, err := s.jobTokenUserLevel(ctx, job, project.ID); err != nil {
		return err
	} else if signedIn && level < store.Developer {
		return errNotFound
	}
	ev.Source = "pipeline"
	ev.UpstreamJobID = job.ID
	ev.TokenDigest = digest
	return nil
}

// checkRef answers GitLab's 400s for a ref that is not exactly one branch or
// tag. A commit SHA is not a ref.
func (s *Server) checkRef(ctx context.Context, projectID int64, ref string) error {
	kinds, err := s.caches.RefKinds(ctx, s.q, projectID, ref)
	if err != nil {
		return err
	}
	switch len(kinds) {
	case 0:
		return baseError(http.StatusBadRequest, "Reference not found")
	case 1:
		return nil
	default:
		return baseError(http.StatusBadRequest, "Ref is ambiguous")
	}
}

// publishAndWait stores the event durably and answers with the dispatcher's
// outcome, or 202 when the client asked for it or the wait bound passed.
func (s *Server) publishAndWait(w http.ResponseWriter, r *http.Request, project store.Project, ev *event.TriggerRequested) error {
	ctx := r.Context()
	async := wantsAsync(r)
	var outcome <-chan event.Outcome
	if !async {
		ch, cancel := s.pub.Await(ev.EventID)
		defer cancel()
		outcome = ch
	}
	dup, err := s.pub.PublishTrigger(ctx, ev)
	if err != nil {
		if refusal := publishRefusal(w, err); refusal != nil {
			return refusal
		}
		s.log.ErrorContext(ctx, "publish trigger event", "project_id", project.ID, "event_id", ev.EventID, "err", err)
		return messageError(http.StatusServiceUnavailable,
			"503 Service Unavailable - the trigger could not be stored; retry with the same Idempotency-Key")
	}
	countAccepted(async)
	if async {
		return s.writeAccepted(w, project, ev.EventID)
	}
	wait := time.NewTimer(s.cfg.TriggerWait)
	defer wait.Stop()
	// A duplicate was published by someone else, maybe through another
	// ingress, whose outcome is not sent here: look it up in the database
	// until it appears.
	var poll <-chan time.Time
	if dup {
		if done, err := s.writeStoredOutcome(w, r, ev.EventID); done || err != nil {
			return err
		}
		ticker := time.NewTicker(50 * time.Millisecond)
		defer ticker.Stop()
		poll = ticker.C
	}
	for {
		select {
		case o := <-outcome:
			return s.writeOutcome(w, o)
		case <-poll:
			if done, err := s.writeStoredOutcome(w, r, ev.EventID); done || err != nil {
				return err
			}
		case <-wait.C:
			return s.writeAccepted(w, project, ev.EventID)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeOutcome answers with a dispatcher's outcome.
func (s *Server) writeOutcome(w http.ResponseWriter, o event.Outcome) error {
	o, err := o.Rendered(s.cfg.ExternalURL)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(o.Status)
	_, err = w.Write(append(o.Body, '\n'))
	return err
}

// storedOutcome reads an event's outcome from the database. found is false
// while the dispatcher has not decided. project is the project the event
// belongs to.
func (s *Server) storedOutcome(ctx context.Context, eventID string) (o event.Outcome, project int64, found bool, err error) {
	pl, rej, err := s.q.EventResult(ctx, eventID)
	switch {
	case err != nil:
		return event.Outcome{}, 0, false, err
	case pl != nil:
		return event.PipelineOutcome(*pl), pl.ProjectID, true, nil
	case rej != nil:
		return event.RejectionOutcome(*rej), rej.ProjectID, true, nil
	}
	return event.Outcome{}, 0, false, nil
}

func (s *Server) writeStoredOutcome(w http.ResponseWriter, r *http.Request, eventID string) (bool, error) {
	o, _, found, err := s.storedOutcome(r.Context(), eventID)
	if err != nil || !found {
		return false, err
	}
	return true, s.writeOutcome(w, o)
}

// acceptedBody is the 202 answer: the event is stored and will be processed;
// status_url tells what became of it.
type acceptedBody struct {
	EventID   string `json:"event_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

func (s *Server) statusURL(projectID int64, eventID string) string {
	return s.cfg.ExternalURL + "/api/v4/projects/" + strconv.FormatInt(projectID, 10) + "/trigger/events/" + eventID
}

func (s *Server) writeAccepted(w http.ResponseWriter, project store.Project, eventID string) error {
	u := s.statusURL(project.ID, eventID)
	w.Header().Set("Location", u)
	writeJSON(w, http.StatusAccepted, acceptedBody{EventID: eventID, Status: "pending", StatusURL: u})
	return nil
}

// triggerEvent resolves a status URL: 201 with the pipeline once created (as
// the trigger call would have answered), the rejection's status and body if
// the dispatcher refused the event, 202 while it is pending. It needs the
// same trigger token (token=…), or a personal access token of a user who can
// see the project's pipelines.
func (s *Server) triggerEvent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	project, err := s.caches.Project(ctx, s.q, pathVar(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Project")
	}
	if err != nil {
		return err
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		ev := &event.TriggerRequested{}
		if err := s.authenticateTrigger(ctx, project, tok, ev); err != nil {
			return err
		}
	} else if _, err := s.project(r, store.Reporter); err != nil {
		return err
	}
	eventID := pathVar(r, "event_id")
	o, owner, found, err := s.storedOutcome(ctx, eventID)
	if err != nil {
		return err
	}
	if !found {
		writeJSON(w, http.StatusAccepted, acceptedBody{EventID: eventID, Status: "pending", StatusURL: s.statusURL(project.ID, eventID)})
		return nil
	}
	if owner != project.ID {
		return errNotFound
	}
	return s.writeOutcome(w, o)
}
