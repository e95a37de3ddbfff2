package event_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// A dispatcher sends a pipeline rendered as the API shows it, unescaped as
// GitLab writes it, and the rendering survives the outcome's own encoding
// byte for byte: the ingress writes what it receives.
func TestRenderedOutcomeCarriesTheAPIBody(t *testing.T) {
	eventID := "ev-1"
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	pl := store.Pipeline{ID: 7, IID: 3, ProjectID: 2, ProjectPath: "group/app", EventID: &eventID, SHA: "abc", Ref: "feature/a&b<c>",
		Status: "created", Source: "trigger", CreatedAt: at, UpdatedAt: at}
	o, err := event.PipelineOutcome(pl).Rendered("https://ci.example.com")
	require.NoError(t, err)
	require.Nil(t, o.Pipeline)
	require.Equal(t, http.StatusCreated, o.Status)
	require.Equal(t, eventID, o.EventID)
	require.Contains(t, string(o.Body), `"ref":"feature/a&b<c>"`)
	require.Contains(t, string(o.Body), `"web_url":"https://ci.example.com/group/app/-/pipelines/7"`)

	wire, err := event.EncodeJSON(o)
	require.NoError(t, err)
	var got event.Outcome
	require.NoError(t, json.Unmarshal(wire, &got))
	require.Equal(t, string(o.Body), string(got.Body))

	again, err := got.Rendered("https://elsewhere.example.com")
	require.NoError(t, err)
	require.Equal(t, string(o.Body), string(again.Body), "a rendered outcome is written as it is")
}
