package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// apiError is an answer with GitLab's status and body. Handlers return it
// (or a domain error) and writeError renders it, in one place.
type apiError struct {
	status int
	body   any
}

func (e *apiError) Error() string {
	b, _ := json.Marshal(e.body)
	return http.StatusText(e.status) + ": " + string(b)
}

// GitLab's error shapes.

// paramError is a parameter validation failure: {"error":"..."}.
func paramError(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: map[string]string{"error": msg}}
}

// messageError is an error raised by an endpoint: {"message":"..."}.
func messageError(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]string{"message": msg}}
}

// baseError is a pipeline that could not be built: {"message":{"base":[...]}}.
func baseError(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]any{"message": map[string][]string{"base": {msg}}}}
}

var (
	errUnauthorized = messageError(http.StatusUnauthorized, "401 Unauthorized")
	errForbidden    = messageError(http.StatusForbidden, "403 Forbidden")
	errNotFound     = messageError(http.StatusNotFound, "404 Not Found")
	errTooLarge     = messageError(http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
)

// notFound is GitLab's 404 naming what was not found: "404 Project Not Found".
func notFound(what string) *apiError {
	return messageError(http.StatusNotFound, "404 "+what+" Not Found")
}

// badRequest is GitLab's 400 with a reason: "400 Bad request - <reason>".
func badRequest(reason string) *apiError {
	return messageError(http.StatusBadRequest, "400 Bad request - "+reason)
}

// writeError renders err as GitLab would. Domain errors that reach here
// unhandled map to their generic GitLab answer; anything else is logged and
// answered 500 without detail, so internals never leak.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		ae = errNotFound
	case errors.Is(err, store.ErrDuplicate):
		ae = messageError(http.StatusConflict, "409 Conflict")
	case errors.Is(err, errMalformed):
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("Bad Request"))
		return
	case errors.Is(err, errBodyTooLarge):
		ae = errTooLarge
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", redactedPath(r), "err", err)
		ae = messageError(http.StatusInternalServerError, "500 Internal Server Error")
	}
	writeJSON(w, ae.status, ae.body)
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	data, err := event.EncodeJSON(v)
	if err == nil {
		_, err = w.Write(append(data, '\n'))
	}
	if err != nil {
		slog.Debug("write response", "err", err)
	}
}
