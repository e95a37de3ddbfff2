package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
)

func TestDeadLettersAdminAPI(t *testing.T) {
	a, js := newTriggerAPI(t, time.Second)
	ctx := context.Background()
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	id, _ := setupTriggerProject(t, a)
	projectID, err := strconv.ParseInt(id, 10, 64)
	require.NoError(t, err)
	const list = "/api/v4/admin/trigger_events/dead"

	status, _, _ := a.do("GET", list, "", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, body, _ := a.do("POST", "/api/v4/users", a.admin, "", url.Values{"username": {"dev"}, "name": {"Dev"}, "email": {"dev@example.com"}}.Encode())
	require.Equal(t, http.StatusCreated, status, body)
	var dev struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(body), &dev))
	status, body, _ = a.do("POST", "/api/v4/users/"+jsonNumber(dev.ID)+"/personal_access_tokens", a.admin, "",
		url.Values{"name": {"t"}, "scopes[]": {"api"}}.Encode())
	require.Equal(t, http.StatusCreated, status, body)
	var pat struct{ Token string }
	require.NoError(t, json.Unmarshal([]byte(body), &pat))
	status, _, _ = a.do("GET", list, pat.Token, "", "")
	require.Equal(t, http.StatusForbidden, status)

	status, body, hdr := a.do("GET", list, a.admin, "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `[]`, body)
	require.Equal(t, "0", hdr.Get("X-Total"))

	// Two events a dispatcher gives up on: one that kept failing, one
	// malformed.
	good, err := json.Marshal(event.TriggerRequested{EventID: "ev-dead", ProjectID: projectID, Ref: "master", Source: "trigger"})
	require.NoError(t, err)
	_, err = js.Publish(ctx, event.TriggerSubject(projectID), good)
	require.NoError(t, err)
	_, err = js.Publish(ctx, event.TriggerSubject(projectID), []byte("not json"))
	require.NoError(t, err)
	cons, err := broker.DispatcherConsumer(ctx, js, time.Minute)
	require.NoError(t, err)
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	reasons := []error{errors.New("database on fire"), errors.New("malformed trigger event: invalid character")}
	i := 0
	for m := range batch.Messages() {
		require.NoError(t, broker.KillTrigger(ctx, js, m, projectID, reasons[i]))
		i++
	}
	require.Equal(t, 2, i)

	type letter struct {
		ID          uint64          `json:"id"`
		EventID     string          `json:"event_id"`
		ProjectID   int64           `json:"project_id"`
		Subject     string          `json:"subject"`
		Error       string          `json:"error"`
		Deliveries  uint64          `json:"deliveries"`
		PublishedAt *string         `json:"published_at"`
		DeadAt      string          `json:"dead_at"`
		Event       json.RawMessage `json:"event"`
		Payload     string          `json:"payload"`
	}
	status, body, hdr = a.do("GET", list, a.admin, "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "2", hdr.Get("X-Total"))
	var letters []letter
	require.NoError(t, json.Unmarshal([]byte(body), &letters))
	require.Len(t, letters, 2)
	first, second := letters[0], letters[1]
	require.Equal(t, "ev-dead", first.EventID)
	require.Equal(t, projectID, first.ProjectID)
	require.Equal(t, event.TriggerSubject(projectID), first.Subject)
	require.Equal(t, "database on fire", first.Error)
	require.Equal(t, uint64(1), first.Deliveries)
	require.NotNil(t, first.PublishedAt)
	require.JSONEq(t, string(good), string(first.Event))
	require.Equal(t, "not json", second.Payload)
	require.Empty(t, second.EventID)

	status, body, _ = a.do("GET", list+"?per_page=1&page=2", a.admin, "", "")
	require.Equal(t, http.StatusOK, status, body)
	var page []letter
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page, 1)
	require.Equal(t, second.ID, page[0].ID)

	status, body, _ = a.do("GET", list+"/"+strconv.FormatUint(first.ID, 10), a.admin, "", "")
	require.Equal(t, http.StatusOK, status, body)
	status, body, _ = a.do("GET", list+"/999", a.admin, "", "")
	require.Equal(t, http.StatusNotFound, status)
	require.JSONEq(t, `{"message":"404 Dead letter Not Found"}`, body)

	// The malformed one cannot be replayed; the other goes back to
	// TRIGGERS, under its event id, and leaves the dead letters.
	status, body, _ = a.do("POST", list+"/"+strconv.FormatUint(second.ID, 10)+"/replay", a.admin, "", "")
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	status, _, _ = a.do("POST", list+"/"+strconv.FormatUint(first.ID, 10)+"/replay", pat.Token, "", "")
	require.Equal(t, http.StatusForbidden, status)
	status, body, hdr = a.do("POST", list+"/"+strconv.FormatUint(first.ID, 10)+"/replay", a.admin, "", "")
	require.Equal(t, http.StatusAccepted, status, body)
	require.JSONEq(t, `{"event_id":"ev-dead","status":"pending","status_url":"http://gitlab.test/api/v4/projects/`+id+`/trigger/events/ev-dead"}`, body)
	require.Equal(t, "http://gitlab.test/api/v4/projects/"+id+"/trigger/events/ev-dead", hdr.Get("Location"))
	replayed, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	m := <-replayed.Messages()
	require.NotNil(t, m)
	require.Equal(t, string(good), string(m.Data()))
	status, body, hdr = a.do("GET", list, a.admin, "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "1", hdr.Get("X-Total"))
	status, _, _ = a.do("POST", list+"/"+strconv.FormatUint(first.ID, 10)+"/replay", a.admin, "", "")
	require.Equal(t, http.StatusNotFound, status, "a replayed letter is gone")
}
