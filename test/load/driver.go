package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"

	"github.com/triggerd/triggerd/test/loadresult"
)

// The trigger forms GitLab documents, in the order of -mix.
const (
	formForm     = iota // curl --form token=… --form ref=… --form "variables[K]=v"
	formQuery           // everything in the query string
	formJSON            // a JSON body with a variables object
	formWebhook         // …/ref/:ref/trigger/pipeline?token=… with a webhook payload
	formJobToken        // curl --form token=$CI_JOB_TOKEN from a running job
	formCount
)

var formNames = [formCount]string{"form", "query", "json", "webhook", "jobtoken"}

// mix is the weight of each trigger form; request i takes the form its
// index falls on in the cumulative weights, so a run is reproducible.
type mix struct {
	weights [formCount]int
	total   int
}

func parseMix(s string) (*mix, error) {
	m := &mix{}
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			w = "1"
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-mix: bad weight in %q", part)
		}
		found := false
		for f, fn := range formNames {
			if fn == name {
				m.weights[f], found = n, true
			}
		}
		if !found {
			return nil, fmt.Errorf("-mix: unknown form %q (want %s)", name, strings.Join(formNames[:], ", "))
		}
		m.total += n
	}
	if m.total == 0 {
		return nil, fmt.Errorf("-mix: every weight is zero")
	}
	return m, nil
}

func (m *mix) pick(i int64) int {
	r := int(i % int64(m.total))
	for f, w := range m.weights {
		if r < w {
			return f
		}
		r -= w
	}
	return formForm
}

func (m *mix) String() string {
	var parts []string
	for f, w := range m.weights {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", formNames[f], w))
		}
	}
	return strings.Join(parts, ",")
}

// sample is one request's due time and latency, kept in burst mode to tell
// the requests sent during the burst from the others.
type sample struct {
	due     time.Time
	latency time.Duration
	status  int
}

// driver sends the requests of a run and records their outcome.
type driver struct {
	c       config
	fx      *fixture
	mix     *mix
	hc      *http.Client
	started time.Time

	seq      atomic.Int64
	inFlight atomic.Int64
	lastNano atomic.Int64

	mu          sync.Mutex
	hist        *hdrhistogram.Histogram
	statuses    map[int]int64
	errors      int64
	errorSample string
	identities  map[string]struct{}
	keepSamples bool
	samples     []sample
}

func newDriver(c config, fx *fixture, m *mix) *driver {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c.Concurrency * 2,
		MaxIdleConnsPerHost: c.Concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &driver{
		c: c, fx: fx, mix: m,
		hc:         &http.Client{Transport: tr, Timeout: 60 * time.Second},
		hist:       newHistogram(),
		statuses:   map[int]int64{},
		identities: map[string]struct{}{},
	}
}

// newHistogram records microseconds from 1 µs to 5 minutes with three
// significant figures.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
}

// run sends until d elapses or stop is closed, then waits for the requests
// in flight.
func (d *driver) run(ctx context.Context, dur time.Duration) *loadresult.Result {
	return d.runUntil(ctx, dur, nil)
}

func (d *driver) runUntil(ctx context.Context, dur time.Duration, stop <-chan struct{}) *loadresult.Result {
	d.started = time.Now()
	end := d.started.Add(dur)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	progressDone := make(chan struct{})
	if !d.c.Quiet {
		go d.progress(ctx, progressDone)
	} else {
		close(progressDone)
	}
	var wg sync.WaitGroup
	if d.c.Rate > 0 {
		interval := time.Duration(float64(time.Second) / d.c.Rate)
		sem := make(chan struct{}, d.c.Concurrency)
		for i := int64(0); ; i++ {
			due := d.started.Add(time.Duration(i) * interval)
			if due.After(end) {
				break
			}
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.fire(ctx, due)
				<-sem
			}()
		}
	} else {
		for range d.c.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					now := time.Now()
					if now.After(end) {
						return
					}
					d.fire(ctx, now)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(d.started)
	cancel()
	<-progressDone
	return d.result(elapsed)
}

// fire sends one request due at due and records it. Its latency counts
// from due, not from when it could be sent.
func (d *driver) fire(ctx context.Context, due time.Time) {
	i := d.seq.Add(1) - 1
	d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	req, key, err := d.build(ctx, i)
	if err != nil {
		d.recordError(err)
		return
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			d.recordError(err)
		}
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	now := time.Now()
	lat := now.Sub(due)
	d.lastNano.Store(now.UnixNano())

	identity := ""
	switch {
	case resp.StatusCode == http.StatusCreated && !d.c.Ceiling:
		var pl struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(body, &pl) == nil && pl.ID != 0 {
			identity = "p" + strconv.FormatInt(pl.ID, 10)
		}
	case resp.StatusCode == http.StatusAccepted:
		identity = "k" + key
		if key == "" {
			identity = "r" + strconv.FormatInt(i, 10)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.hist.RecordValue(max(1, lat.Microseconds()))
	d.statuses[resp.StatusCode]++
	if identity != "" {
		d.identities[identity] = struct{}{}
	}
	if resp.StatusCode >= 300 && d.errorSample == "" {
		d.errorSample = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if d.keepSamples {
		d.samples = append(d.samples, sample{due: due, latency: lat, status: resp.StatusCode})
	}
}

func (d *driver) recordError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errors++
	if d.errorSample == "" {
		d.errorSample = err.Error()
	}
}

// promised is how many distinct pipelines the answers so far stand for.
func (d *driver) promised() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.identities)
}

func (d *driver) lastAnswer() time.Time { return time.Unix(0, d.lastNano.Load()) }

// build makes request i: its form from the mix, its project round robin,
// its variables, and its Idempotency-Key as -keys says.
func (d *driver) build(ctx context.Context, i int64) (*http.Request, string, error) {
	p := d.fx.projects[i%int64(len(d.fx.projects))]
	vars := make([][2]string, d.c.Variables)
	for v := range vars {
		vars[v] = [2]string{fmt.Sprintf("LOAD_VAR_%d", v+1), fmt.Sprintf("value-%d-%d", i, v+1)}
	}
	path := fmt.Sprintf("%s/api/v4/projects/%d/trigger/pipeline", d.c.URL, p.ID)
	q := url.Values{}
	if d.c.Async {
		q.Set("async", "true")
	}
	var body io.Reader
	contentType := ""
	headers := http.Header{}
	form := d.mix.pick(i)
	switch form {
	case formForm, formJobToken:
		token := p.Token
		if form == formJobToken {
			token = d.fx.jobToken
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("token", token)
		_ = mw.WriteField("ref", "master")
		for _, kv := range vars {
			_ = mw.WriteField("variables["+kv[0]+"]", kv[1])
		}
		_ = mw.Close()
		body, contentType = &buf, mw.FormDataContentType()
	case formQuery:
		q.Set("token", p.Token)
		q.Set("ref", "master")
		for _, kv := range vars {
			q.Set("variables["+kv[0]+"]", kv[1])
		}
	case formJSON:
		m := map[string]string{}
		for _, kv := range vars {
			m[kv[0]] = kv[1]
		}
		data, _ := json.Marshal(map[string]any{"token": p.Token, "ref": "master", "variables": m})
		body, contentType = bytes.NewReader(data), "application/json"
	case formWebhook:
		path = fmt.Sprintf("%s/api/v4/projects/%d/ref/master/trigger/pipeline", d.c.URL, p.ID)
		q.Set("token", p.Token)
		for _, kv := range vars {
			q.Set("variables["+kv[0]+"]", kv[1])
		}
		data, _ := json.Marshal(map[string]any{"object_kind": "push", "ref": "refs/heads/master",
			"checkout_sha": fmt.Sprintf("%040x", i), "total_commits_count": 1})
		body, contentType = bytes.NewReader(data), "application/json"
		headers.Set("X-Gitlab-Event", "Push Hook")
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, "", err
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	key := ""
	switch d.c.Keys {
	case "unique":
		key = uuid.NewString()
	case "repeat":
		key = fmt.Sprintf("load-key-%d", i%int64(max(1, d.c.RepeatKeys)))
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req, key, nil
}

// progress prints one line a second: elapsed, sent, answers, the last
// second's rate and the p99 so far.
func (d *driver) progress(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr)
			return
		case <-t.C:
		}
		d.mu.Lock()
		var answered, ok int64
		for code, n := range d.statuses {
			answered += n
			if code < 300 {
				ok += n
			}
		}
		p99 := time.Duration(d.hist.ValueAtQuantile(99)) * time.Microsecond
		errs := d.errors
		d.mu.Unlock()
		fmt.Fprintf(os.Stderr, "\r%6.0fs  answered %9d  2xx %9d  other %6d  errors %5d  %7d/s  in flight %4d  p99 %v      ",
			time.Since(d.started).Seconds(), answered, ok, answered-ok, errs, answered-last, d.inFlight.Load(), p99.Round(100*time.Microsecond))
		last = answered
	}
}

// result summarises the run.
func (d *driver) result(elapsed time.Duration) *loadresult.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &loadresult.Result{
		Label: d.c.Label, Target: d.c.URL, Mode: "closed", Concurrency: d.c.Concurrency,
		OfferedRate: d.c.Rate, Forms: d.mix.String(), Keys: d.c.Keys, Async: d.c.Async,
		Seconds: elapsed.Seconds(), Statuses: map[string]int64{}, Errors: d.errors, ErrorSample: d.errorSample,
		Latency: loadresult.LatencyOf(d.hist),
	}
	if d.c.Rate > 0 {
		r.Mode = "open"
	}
	codes := make([]int, 0, len(d.statuses))
	for code := range d.statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	var ok int64
	for _, code := range codes {
		n := d.statuses[code]
		r.Statuses[strconv.Itoa(code)] = n
		r.Answered += n
		if code < 300 {
			ok += n
		}
	}
	r.Accepted = ok
	if r.Seconds > 0 {
		r.AcceptedPerSecond = float64(ok) / r.Seconds
	}
	return r
}
