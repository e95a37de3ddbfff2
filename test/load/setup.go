package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/triggerd/triggerd/test/loadresult"
)

// apiClient calls the GitLab API of the stack under test, as an
// administrator or as the load user.
type apiClient struct {
	base string
	hc   *http.Client
}

// call sends form (when not nil) and decodes a 2xx answer into out (when
// not nil). Anything else is an error carrying the status and body.
func (a *apiClient) call(ctx context.Context, method, path, token string, form url.Values, out any) (http.Header, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/api/v4"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("PRIVATE-TOKEN", token)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// target is one project triggers are sent to.
type target struct {
	ID    int64
	Token string
}

// fixture is what a run sets up: a user of its own, its projects and their
// trigger tokens, and for the job-token form a running job's token.
type fixture struct {
	api       *apiClient
	userToken string
	projects  []target
	jobToken  string
	holder    struct{ project, pipeline int64 }
	listener  net.Listener
}

// ceilingFixture stands in for a set-up stack when the target is the
// ceiling handler, which reads nothing it is sent.
func ceilingFixture(c config) *fixture {
	fx := &fixture{}
	for i := range c.Projects {
		fx.projects = append(fx.projects, target{ID: int64(i + 1), Token: "glptt-ceiling"})
	}
	fx.jobToken = "glcbt-ceiling"
	return fx
}

// ciConfig is the pipeline of every load project: c.Jobs jobs, one stage
// each, that print the variables they were given.
func ciConfig(jobs int) string {
	var b strings.Builder
	b.WriteString("stages:\n")
	for i := range jobs {
		fmt.Fprintf(&b, "- s%d\n", i+1)
	}
	for i := range jobs {
		fmt.Fprintf(&b, "\njob_%d:\n  stage: s%d\n  script:\n  - echo job_%d $LOAD_VAR_1 $LOAD_VAR_2\n", i+1, i+1, i+1)
	}
	return b.String()
}

// holderConfig is the pipeline of the project whose one job hands its
// CI_JOB_TOKEN to this tool and stays running so that the token stays valid.
func holderConfig(tokenURL string) string {
	return fmt.Sprintf(`hold_token:
  script:
  - curl --fail --request POST --data "$CI_JOB_TOKEN" %s
  - sleep 3600
`, tokenURL)
}

// setUp creates the run's user, projects and tokens through the API.
func setUp(ctx context.Context, c config, m *mix) (*fixture, error) {
	if c.AdminToken == "" {
		return nil, errors.New("an administrator token is needed (-admin-token or TRIGGERS_ADMIN_TOKEN)")
	}
	fx := &fixture{api: &apiClient{base: c.URL, hc: &http.Client{Timeout: 30 * time.Second}}}
	run := uuid.NewString()[:8]
	var user struct {
		ID int64 `json:"id"`
	}
	if _, err := fx.api.call(ctx, http.MethodPost, "/users", c.AdminToken, url.Values{
		"username": {"load-" + run}, "name": {"Load " + run}, "email": {"load-" + run + "@example.com"},
		"force_random_password": {"true"},
	}, &user); err != nil {
		return nil, err
	}
	var pat struct {
		Token string `json:"token"`
	}
	if _, err := fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/users/%d/personal_access_tokens", user.ID), c.AdminToken,
		url.Values{"name": {"load"}, "scopes[]": {"api"}}, &pat); err != nil {
		return nil, err
	}
	fx.userToken = pat.Token

	fx.projects = make([]target, c.Projects)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range fx.projects {
		g.Go(func() error {
			p, err := fx.newProject(gctx, fmt.Sprintf("load-%s-%d", run, i+1), ciConfig(c.Jobs))
			fx.projects[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if m.weights[formJobToken] > 0 {
		if err := fx.startTokenHolder(ctx, c, run); err != nil {
			fx.tearDown()
			return nil, fmt.Errorf("job token: %w", err)
		}
	}
	return fx, nil
}

// newProject creates a project with the given .gitlab-ci.yml on master and
// a trigger token.
func (fx *fixture) newProject(ctx context.Context, name, ci string) (target, error) {
	var p struct {
		ID int64 `json:"id"`
	}
	if _, err := fx.api.call(ctx, http.MethodPost, "/projects", fx.userToken,
		url.Values{"name": {name}, "default_branch": {"master"}}, &p); err != nil {
		return target{}, err
	}
	if _, err := fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/projects/%d/repository/files/.gitlab-ci.yml", p.ID), fx.userToken,
		url.Values{"branch": {"master"}, "content": {ci}, "commit_message": {"Add .gitlab-ci.yml"}}, nil); err != nil {
		return target{}, err
	}
	var t struct {
		Token string `json:"token"`
	}
	if _, err := fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/projects/%d/triggers", p.ID), fx.userToken,
		url.Values{"description": {"load"}}, &t); err != nil {
		return target{}, err
	}
	return target{ID: p.ID, Token: t.Token}, nil
}

// startTokenHolder runs a job that posts its CI_JOB_TOKEN to a listener of
// this tool and sleeps, allowlists its project in every load project, and
// waits for the token. It needs a runner-sim attached to the stack.
func (fx *fixture) startTokenHolder(ctx context.Context, c config, run string) error {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	fx.listener = ln
	tokens := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		select {
		case tokens <- strings.TrimSpace(string(data)):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()

	holder, err := fx.newProject(ctx, "load-"+run+"-holder", holderConfig("http://"+ln.Addr().String()+"/token"))
	if err != nil {
		return err
	}
	fx.holder.project = holder.ID
	for _, p := range fx.projects {
		if _, err := fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/projects/%d/job_token_scope/allowlist", p.ID), fx.userToken,
			url.Values{"target_project_id": {strconv.FormatInt(holder.ID, 10)}}, nil); err != nil {
			return err
		}
	}
	var pl struct {
		ID int64 `json:"id"`
	}
	if _, err := fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/projects/%d/trigger/pipeline", holder.ID), "",
		url.Values{"token": {holder.Token}, "ref": {"master"}}, &pl); err != nil {
		return err
	}
	fx.holder.pipeline = pl.ID
	select {
	case fx.jobToken = <-tokens:
		return nil
	case <-time.After(90 * time.Second):
		return errors.New("no job posted its token within 90s; is a runner-sim attached to the stack?")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tearDown cancels the token holder's pipeline and closes the listener.
func (fx *fixture) tearDown() {
	if fx.holder.pipeline != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = fx.api.call(ctx, http.MethodPost, fmt.Sprintf("/projects/%d/pipelines/%d/cancel", fx.holder.project, fx.holder.pipeline),
			fx.userToken, nil, nil)
	}
	if fx.listener != nil {
		_ = fx.listener.Close()
	}
}

// pipelineCount is the number of pipelines of the load projects, read from
// the X-Total header of their pipeline lists.
func (fx *fixture) pipelineCount(ctx context.Context) (int, error) {
	if fx.api == nil {
		return 0, nil
	}
	var mu sync.Mutex
	total := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, p := range fx.projects {
		g.Go(func() error {
			h, err := fx.api.call(gctx, http.MethodGet, fmt.Sprintf("/projects/%d/pipelines?per_page=1", p.ID), fx.userToken, nil, nil)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(h.Get("X-Total"))
			if err != nil {
				return fmt.Errorf("project %d: X-Total %q", p.ID, h.Get("X-Total"))
			}
			mu.Lock()
			total += n
			mu.Unlock()
			return nil
		})
	}
	return total, g.Wait()
}

// jobsOfLatest is the number of jobs of the newest pipeline of the first
// load project: every pipeline should carry all of its jobs.
func (fx *fixture) jobsOfLatest(ctx context.Context) (int, error) {
	var pls []struct {
		ID int64 `json:"id"`
	}
	p := fx.projects[0]
	if _, err := fx.api.call(ctx, http.MethodGet, fmt.Sprintf("/projects/%d/pipelines?per_page=1", p.ID), fx.userToken, nil, &pls); err != nil {
		return 0, err
	}
	if len(pls) == 0 {
		return 0, nil
	}
	var jobs []json.RawMessage
	if _, err := fx.api.call(ctx, http.MethodGet, fmt.Sprintf("/projects/%d/pipelines/%d/jobs?per_page=100", p.ID, pls[0].ID), fx.userToken, nil, &jobs); err != nil {
		return 0, err
	}
	return len(jobs), nil
}

// nextPoll is how long to wait before counting again, with left pipelines
// still to appear and grew appearing over the last interval: half the time
// the current rate needs for the rest, between 100 ms and 5 s. Each count
// reads every pipeline of the run's projects (about 150 ms of Postgres's CPU
// per 50,000 here), so counting every 100 ms while a large backlog drains
// would slow the drain it measures.
func nextPoll(left, grew int, interval time.Duration) time.Duration {
	const least, most = 100 * time.Millisecond, 5 * time.Second
	if grew <= 0 || interval <= 0 {
		return least
	}
	eta := time.Duration(float64(interval) * float64(left) / float64(grew))
	return min(max(eta/2, least), most)
}

// waitVisible polls until every pipeline the run was promised exists, and
// reports the end-to-end rate: pipelines over the time from the first
// request until the last one was visible.
func (fx *fixture) waitVisible(ctx context.Context, d *driver, before int, wait time.Duration) (*loadresult.E2E, error) {
	want := d.promised()
	r := &loadresult.E2E{Expected: want}
	deadline := time.Now().Add(wait)
	var polled time.Time // when the last count began
	lastVisible, lastAt := 0, time.Time{}
	for {
		polled = time.Now()
		n, err := fx.pipelineCount(ctx)
		if err != nil {
			return nil, err
		}
		r.Visible = n - before
		r.Complete = r.Visible >= want
		if r.Complete || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		var interval time.Duration
		if !lastAt.IsZero() {
			interval = polled.Sub(lastAt)
		}
		time.Sleep(nextPoll(want-r.Visible, r.Visible-lastVisible, interval))
		lastVisible, lastAt = r.Visible, polled
	}
	// Everything was visible when the count that saw it began.
	end := polled
	if r.Complete && !d.c.Async {
		// A 201 is only sent once the pipeline and its jobs are stored:
		// everything was visible at the last answer.
		end = d.lastAnswer()
	}
	r.Seconds = end.Sub(d.started).Seconds()
	if r.Seconds > 0 {
		r.PerSecond = float64(r.Visible) / r.Seconds
	}
	jobs, err := fx.jobsOfLatest(ctx)
	if err != nil {
		return nil, err
	}
	r.JobsOfLatest = jobs
	return r, nil
}
