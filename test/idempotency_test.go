package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

// TestIdempotency sends one trigger many times with the same
// Idempotency-Key, concurrently and then as a late retry: one pipeline, and
// every answer names it.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	// Two ingress replicas take the calls and two dispatchers compete for
	// the deliveries.
	s := startStack(t, stackOpts{Dispatchers: 2, Ingresses: 2})
	owner := s.CreateUser(t, "idem")
	p := s.CreateProject(t, owner, docsCI)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "idempotent").Token
	key := testenv.Name("key-")
	path := fmt.Sprintf("/api/v4/projects/%d/trigger/pipeline", p.ID)
	body, err := json.Marshal(map[string]any{"token": tok, "ref": "master", "variables": map[string]string{"RUN": "once"}})
	require.NoError(t, err)

	type answer struct {
		status int
		id     int64
		body   string
		err    error
	}
	// send posts the trigger to ingress replica i (modulo their number).
	send := func(i int) answer {
		base := s.IngressURLs[i%len(s.IngressURLs)]
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return answer{err: err}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := s.HTTP.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return answer{err: err}
		}
		a := answer{status: resp.StatusCode, body: string(b)}
		var pl pipelineJSON
		if err := json.Unmarshal(b, &pl); err == nil {
			a.id = pl.ID
		}
		return a
	}

	const n = 20
	answers := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = send(i)
		}()
	}
	close(start)
	wg.Wait()

	first := answers[0]
	require.NoError(t, first.err)
	require.Equal(t, http.StatusCreated, first.status, "body: %s", first.body)
	require.NotZero(t, first.id)
	for i, a := range answers {
		require.NoError(t, a.err, "request %d", i)
		require.Equal(t, http.StatusCreated, a.status, "request %d: %s", i, a.body)
		require.Equal(t, first.id, a.id, "request %d names another pipeline: %s", i, a.body)
	}
	require.Equal(t, 1, s.PipelineCount(t, p.ID), "SQL: one pipeline for one key")
	pls := s.ListPipelines(t, owner.Token, p.ID, "")
	require.Len(t, pls, 1, "API: one pipeline for one key")
	require.Equal(t, first.id, pls[0].ID)
	require.Equal(t, map[string]string{"RUN": "once"}, s.PipelineVariables(t, owner.Token, p.ID, first.id))
	var jobs int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE pipeline_id = $1`, first.id).Scan(&jobs))
	require.Equal(t, 3, jobs, "the pipeline's jobs were inserted once")

	// A retry after the first call completed gets the same pipeline.
	for i := 0; i < 2; i++ {
		a := send(i)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusCreated, a.status, "retry %d: %s", i, a.body)
		require.Equal(t, first.id, a.id, "retry %d", i)
	}
	require.Equal(t, 1, s.PipelineCount(t, p.ID))
	require.Len(t, s.ListPipelines(t, owner.Token, p.ID, ""), 1)

	// Another key is another pipeline; the same key on another project is
	// that project's own.
	r := s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID),
		JSON: body, Header: map[string]string{"Idempotency-Key": key + "-other"}})
	other := decode[pipelineJSON](t, r, http.StatusCreated)
	require.NotEqual(t, first.id, other.ID)
	require.Equal(t, 2, s.PipelineCount(t, p.ID))

	p2 := s.CreateProject(t, owner, docsCI)
	tok2 := s.CreateTrigger(t, owner.Token, p2.ID, "second project").Token
	r = s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline", p2.ID),
		JSON: map[string]any{"token": tok2, "ref": "master"}, Header: map[string]string{"Idempotency-Key": key}})
	pl2 := decode[pipelineJSON](t, r, http.StatusCreated)
	require.Equal(t, p2.ID, pl2.ProjectID)
	require.Equal(t, 1, s.PipelineCount(t, p2.ID))
	require.Equal(t, 2, s.PipelineCount(t, p.ID))
}

// TestIdempotentRefusals replays triggers that the dispatcher refused: the
// retry with the same Idempotency-Key, and the status URL, must give the
// same answer as the first call, not a different one.
func TestIdempotentRefusals(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "refuse")
	p := s.CreateProject(t, owner, docsCI)
	s.CreateBranch(t, owner.Token, p.ID, "nojobs", "master")
	s.CommitCI(t, owner.Token, p.ID, "nojobs", noJobsCI, true)
	s.CreateBranch(t, owner.Token, p.ID, "badcfg", "master")
	s.CommitCI(t, owner.Token, p.ID, "badcfg", badCI, true)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "refusals").Token
	const bodyBadCI = `{"message":{"base":["jobs:run_tests config contains unknown keys: foo"]}}`

	send := func(ref, key, query string) reply {
		return s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline%s", p.ID, query),
			JSON: map[string]any{"token": tok, "ref": ref}, Header: map[string]string{"Idempotency-Key": key}})
	}

	t.Run("no job matches, retried", func(t *testing.T) {
		key := testenv.Name("nojobs-")
		for i := 0; i < 3; i++ {
			r := send("nojobs", key, "")
			require.Equal(t, http.StatusBadRequest, r.Status, "call %d: %s", i, r.Body)
			require.Equal(t, bodyNoJobs, r.Text(), "call %d", i)
		}
		require.Equal(t, 0, s.PipelineCount(t, p.ID))
	})

	t.Run("CI config invalid, retried", func(t *testing.T) {
		key := testenv.Name("badcfg-")
		for i := 0; i < 3; i++ {
			r := send("badcfg", key, "")
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "call %d: %s", i, r.Body)
			require.Equal(t, bodyBadCI, r.Text(), "call %d", i)
		}
		require.Len(t, s.ListPipelines(t, owner.Token, p.ID, "ref=badcfg"), 1, "one failed pipeline for the key")
	})

	t.Run("CI config invalid, through the status URL", func(t *testing.T) {
		r := send("badcfg", testenv.Name("async-"), "?async=true")
		acc := decode[struct {
			StatusURL string `json:"status_url"`
		}](t, r, http.StatusAccepted)
		var last reply
		eventually(t, 15*time.Second, "the event to be decided", func() bool {
			last = s.Get(t, acc.StatusURL, owner.Token)
			return last.Status != http.StatusAccepted
		})
		require.Equal(t, http.StatusUnprocessableEntity, last.Status, "the status URL answers as the trigger call would have: %s", last.Body)
		require.Equal(t, bodyBadCI, last.Text())
	})

	t.Run("no job matches, through the status URL", func(t *testing.T) {
		r := send("nojobs", testenv.Name("async-"), "?async=true")
		acc := decode[struct {
			EventID   string `json:"event_id"`
			StatusURL string `json:"status_url"`
		}](t, r, http.StatusAccepted)
		var last reply
		eventually(t, 15*time.Second, "the event to be decided", func() bool {
			last = s.Get(t, acc.StatusURL, owner.Token)
			return last.Status != http.StatusAccepted
		})
		require.Equal(t, http.StatusBadRequest, last.Status, "body: %s", last.Body)
		require.Equal(t, bodyNoJobs, last.Text())
	})

	t.Run("a refusal through another project's status URL", func(t *testing.T) {
		r := send("nojobs", testenv.Name("async-"), "?async=true")
		acc := decode[struct {
			EventID   string `json:"event_id"`
			StatusURL string `json:"status_url"`
		}](t, r, http.StatusAccepted)
		eventually(t, 15*time.Second, "the event to be decided", func() bool {
			return s.Get(t, acc.StatusURL, owner.Token).Status != http.StatusAccepted
		})
		// Another project's status URL does not tell what became of this
		// project's event, as it does not show its pipelines.
		other := s.CreateProject(t, owner, docsCI)
		otherTok := s.CreateTrigger(t, owner.Token, other.ID, "other").Token
		r = s.Get(t, fmt.Sprintf("/projects/%d/trigger/events/%s?token=%s", other.ID, acc.EventID, otherTok), "")
		require.Equal(t, http.StatusNotFound, r.Status, "body: %s", r.Body)
		require.Equal(t, body404, r.Text())
	})

	t.Run("a pipeline through another project's status URL", func(t *testing.T) {
		r := s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline?async=true", p.ID),
			JSON: map[string]any{"token": tok, "ref": "master"}})
		acc := decode[struct {
			EventID   string `json:"event_id"`
			StatusURL string `json:"status_url"`
		}](t, r, http.StatusAccepted)
		eventually(t, 15*time.Second, "the pipeline", func() bool {
			return s.Get(t, acc.StatusURL, owner.Token).Status == http.StatusCreated
		})
		other := s.CreateProject(t, owner, docsCI)
		otherTok := s.CreateTrigger(t, owner.Token, other.ID, "other").Token
		r = s.Get(t, fmt.Sprintf("/projects/%d/trigger/events/%s?token=%s", other.ID, acc.EventID, otherTok), "")
		require.Equal(t, http.StatusNotFound, r.Status, "body: %s", r.Body)
		require.Equal(t, body404, r.Text())
	})
}

// TestWebhookRedeliveryAfterJetStreamForgets: a Git host redelivering a
// webhook (the same X-Gitlab-Event-UUID or X-GitHub-Delivery, or the same
// Idempotency-Key) gets the first delivery's pipeline even once JetStream
// has forgotten the message id. The lasting dedupe is the pipelines'
// unique event id, kept as long as the pipeline, not JetStream's window.
func TestWebhookRedeliveryAfterJetStreamForgets(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "hooks")
	p := s.CreateProject(t, owner, docsCI)
	tok := s.CreateTrigger(t, owner.Token, p.ID, "webhook").Token

	// JetStream remembers message ids for a second only, instead of the
	// streams' two minutes.
	ctx := context.Background()
	_, js := testenv.JetStreamAt(t, s.NATSURL)
	st, err := js.Stream(ctx, event.TriggersStream)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	cfg.Duplicates = time.Second
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	deliver := func(header, id string) int64 {
		r := s.Do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/ref/master/trigger/pipeline?token=%s", p.ID, tok),
			JSON: map[string]any{"object_kind": "push", "ref": "refs/heads/master"}, Header: map[string]string{header: id}})
		return decode[pipelineJSON](t, r, http.StatusCreated).ID
	}
	ids := map[string]string{}
	first := map[string]int64{}
	for _, h := range []string{"X-Gitlab-Event-UUID", "X-GitHub-Delivery", "Idempotency-Key"} {
		ids[h] = testenv.Name("delivery-")
		first[h] = deliver(h, ids[h])
	}
	require.Equal(t, 3, s.PipelineCount(t, p.ID))
	// The window is a timer on the server: there is nothing to poll.
	time.Sleep(1500 * time.Millisecond)
	for h, id := range ids {
		require.Equal(t, first[h], deliver(h, id), "%s %s delivered again", h, id)
	}
	require.Equal(t, 3, s.PipelineCount(t, p.ID), "redeliveries made no pipeline")
}
