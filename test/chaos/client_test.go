package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// trigger is what the client knows of one trigger it sent.
type trigger struct {
	Key      string
	EventID  string
	FirstAt  time.Time
	Attempts int
	// Accepted is set once any answer was 2xx (201, or 202 with a status
	// URL): the service then owes exactly one pipeline.
	Accepted bool
	// Status is the definite answer: 201, or a 4xx other than 429; zero
	// while the client still retries.
	Status     int
	PipelineID int64
	AnsweredAt time.Time
	LastErr    string
}

// client sends triggers as a careful user of the API does: each with a
// unique Idempotency-Key, retried with the same key after a connection
// error, a timeout, a 5xx, a 429 or a 202, until a definite answer.
type client struct {
	url       string // the trigger endpoint
	token     string
	projectID int64
	http      *http.Client

	mu       sync.Mutex
	triggers []*trigger
	wg       sync.WaitGroup
	n        int
	prefix   string
}

func newClient(base string, projectID int64, token, prefix string) *client {
	return &client{
		url:   fmt.Sprintf("%s/api/v4/projects/%d/trigger/pipeline", base, projectID),
		token: token, projectID: projectID, prefix: prefix,
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
}

// eventID is the event id the ingress derives from a key (see eventID in
// ingress/api/trigger.go): what pipelines.event_id holds.
func eventID(projectID int64, key string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(projectID, 10) + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// send starts one trigger in the background; it retries until ctx ends.
func (c *client) send(ctx context.Context) {
	c.mu.Lock()
	c.n++
	key := c.prefix + strconv.Itoa(c.n)
	tr := &trigger{Key: key, EventID: eventID(c.projectID, key), FirstAt: time.Now()}
	c.triggers = append(c.triggers, tr)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(ctx, tr)
	}()
}

// run is one trigger's retry loop.
func (c *client) run(ctx context.Context, tr *trigger) {
	body, _ := json.Marshal(map[string]string{"token": c.token, "ref": "master"})
	delay := 100 * time.Millisecond
	for {
		status, retryIn, pipelineID, err := c.post(ctx, tr.Key, body)
		c.mu.Lock()
		tr.Attempts++
		switch {
		case err != nil:
			tr.LastErr = err.Error()
		case status == http.StatusCreated:
			tr.Accepted, tr.Status, tr.PipelineID, tr.AnsweredAt = true, status, pipelineID, time.Now()
		case status == http.StatusAccepted:
			tr.Accepted = true // stored; keep the key until the outcome is known
			tr.LastErr = "202"
		case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
			tr.Status, tr.AnsweredAt = status, time.Now()
		default:
			tr.LastErr = strconv.Itoa(status)
		}
		done := tr.Status != 0
		c.mu.Unlock()
		if done {
			return
		}
		if retryIn == 0 {
			retryIn = delay
			delay = min(2*delay, 2*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryIn):
		}
	}
}

// post is one attempt: the status, how long the server asked to wait
// (Retry-After), and the pipeline id of a 201.
func (c *client) post(ctx context.Context, key string, body []byte) (int, time.Duration, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, 0, err
	}
	var retryIn time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryIn = time.Duration(s) * time.Second
	}
	var pl struct {
		ID int64 `json:"id"`
	}
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &pl); err != nil || pl.ID == 0 {
			return 0, 0, 0, fmt.Errorf("201 without a pipeline: %s", b)
		}
	}
	return resp.StatusCode, retryIn, pl.ID, nil
}

// snapshot copies the triggers' state.
func (c *client) snapshot() []trigger {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]trigger, len(c.triggers))
	for i, tr := range c.triggers {
		out[i] = *tr
	}
	return out
}

// unresolved counts triggers without a definite answer.
func (c *client) unresolved() int {
	n := 0
	for _, tr := range c.snapshot() {
		if tr.Status == 0 {
			n++
		}
	}
	return n
}
