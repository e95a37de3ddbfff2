package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/triggerd/triggerd/internal/ciconfig"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/store"
)

// Messages GitLab answers when a pipeline cannot be built.
const (
	msgRefNotFound      = "Reference not found"
	msgRefAmbiguous     = "Ref is ambiguous"
	msgMissingConfig    = "Missing CI config file"
	msgNoJobs           = "Pipeline will not run for the selected trigger. The rules configuration prevented any jobs from being added to the pipeline."
	msgWorkflowFiltered = "Pipeline filtered out by workflow rules."
	msgJobNotRunning    = "Job is not running"
	// Why a schedule created nothing.
	msgScheduleNoOwner       = "403 Forbidden - The pipeline schedule has no owner; take ownership to run it"
	msgScheduleOwnerNoAccess = "403 Forbidden - The owner of the pipeline schedule cannot run pipelines in this project"
)

// creator decides trigger events. It caches parsed CI configs by their git
// blob id: the id names the content, so an entry can never be stale, and
// the thousands of triggers of one project's config parse it once.
type creator struct {
	configs *lru.Cache[string, parsedConfig]
	limits  Limits
}

// Limits bound hierarchies of multi-project pipelines, as GitLab does.
type Limits struct {
	// MaxDepth is how deep a chain of upstream pipelines may be: a
	// pipeline without upstream has depth 0, its downstream depth 1, and a
	// bridge whose downstream would be deeper than MaxDepth fails.
	MaxDepth int
	// MaxHierarchySize is how many pipelines one hierarchy (a pipeline
	// without upstream and all its downstreams) may hold.
	MaxHierarchySize int
}

// Default limits, GitLab's.
const (
	DefaultMaxDepth         = 1000
	DefaultMaxHierarchySize = 1000
)

type parsedConfig struct {
	cfg *ciconfig.Config
	err error
}

func newCreator(cacheSize int, limits Limits) *creator {
	c, err := lru.New[string, parsedConfig](cacheSize)
	if err != nil {
		panic(err) // only for a non-positive size, which newCreator never passes
	}
	if limits.MaxDepth <= 0 {
		limits.MaxDepth = DefaultMaxDepth
	}
	if limits.MaxHierarchySize <= 0 {
		limits.MaxHierarchySize = DefaultMaxHierarchySize
	}
	return &creator{configs: c, limits: limits}
}

func (c *creator) parse(blob string, load func() ([]byte, error)) (*ciconfig.Config, error) {
	if p, ok := c.configs.Get(blob); ok {
		return p.cfg, p.err
	}
	src, err := load()
	if err != nil {
		return nil, fmt.Errorf("read CI config blob %s: %w", blob, err)
	}
	cfg, err := ciconfig.Parse(src)
	var ce *ciconfig.ConfigError
	if err == nil || errors.As(err, &ce) {
		c.configs.Add(blob, parsedConfig{cfg: cfg, err: err})
	}
	return cfg, err
}

// rejection is a decision not to create a pipeline, with GitLab's answer.
type rejection struct {
	status int
	body   any
	// refNotFound marks the one refusal that may turn out differently
	// later: the ref does not exist (yet). A bridge waits for it.
	refNotFound bool
}

// reason is the rejection's message as one line of text, for a schedule's
// last_error.
func (r *rejection) reason() string {
	switch b := r.body.(type) {
	case map[string]string:
		return b["message"]
	case map[string]any:
		if m, ok := b["message"].(map[string][]string); ok && len(m["base"]) > 0 {
			return m["base"][0]
		}
	}
	return http.StatusText(r.status)
}

func rejectBase(status int, msg string) *rejection {
	return &rejection{status: status, body: map[string]any{"message": map[string][]string{"base": {msg}}}}
}

func rejectMessage(status int, msg string) *rejection {
	return &rejection{status: status, body: map[string]string{"message": msg}}
}

// result is what processing one event decided, committed to the database.
type result struct {
	outcome event.Outcome
	// pipelineID is set when a pipeline exists for the event.
	pipelineID int64
	// touched are pipelines whose jobs or bridges may have been released
	// by the decision (the new pipeline, a bridge's upstream chain): they
	// are published after the commit.
	touched []int64
}

// process decides one event inside tx: it returns the outcome already
// stored for the event, or creates the pipeline (or the rejection) now.
// Errors are infrastructure failures; the caller rolls back and retries.
// A bridge's event is decided by processBridge.
func (c *creator) process(ctx context.Context, q *store.Queries, ev *event.TriggerRequested) (result, error) {
	if ev.BridgeID != 0 {
		return c.processBridge(ctx, q, ev, false)
	}
	if done, ok, err := storedResult(ctx, q, ev.EventID); err != nil || ok {
		return done, err
	}
	np, rej, err := c.plan(ctx, q, ev)
	if err != nil {
		return result{}, err
	}
	if ev.ScheduleID != 0 {
		// A schedule shows why its last run created nothing.
		reason := ""
		if rej != nil {
			reason = rej.reason()
		}
		if err := q.SetScheduleError(ctx, ev.ScheduleID, reason); err != nil {
			return result{}, fmt.Errorf("record schedule outcome: %w", err)
		}
	}
	if rej != nil {
		return reject(ctx, q, ev, rej)
	}
	return c.create(ctx, q, np, nil)
}

// reject stores a rejection of the event and answers with it.
func reject(ctx context.Context, q *store.Queries, ev *event.TriggerRequested, rej *rejection) (result, error) {
	body, err := json.Marshal(rej.body)
	if err != nil {
		return result{}, err
	}
	if err := q.InsertRejection(ctx, store.Rejection{EventID: ev.EventID, ProjectID: ev.ProjectID, Status: rej.status, Body: body}); err != nil {
		return result{}, fmt.Errorf("record rejection: %w", err)
	}
	return result{outcome: event.Outcome{EventID: ev.EventID, Status: rej.status, Body: body}}, nil
}

// create inserts a planned pipeline and releases its first jobs. link, when
// set, runs right after the insert with the new pipeline's id, before any
// processing, in the same transaction (a bridge links its downstream).
func (c *creator) create(ctx context.Context, q *store.Queries, np *store.NewPipeline, link func(id int64) error) (result, error) {
	id, err := q.CreatePipeline(ctx, *np)
	if err != nil {
		return result{}, fmt.Errorf("insert pipeline: %w", err)
	}
	if np.UpstreamPipelineID != nil {
		if err := q.SetDownstreamLineage(ctx, id, *np.UpstreamPipelineID); err != nil {
			return result{}, fmt.Errorf("place downstream pipeline: %w", err)
		}
	}
	if np.TriggerID != nil {
		if err := q.TouchTriggers(ctx, []int64{*np.TriggerID}, time.Now()); err != nil {
			return result{}, fmt.Errorf("touch trigger: %w", err)
		}
	}
	// The answer shows the pipeline as created, as GitLab's does; its first
	// jobs are released in the same transaction.
	pl, err := q.PipelineByID(ctx, np.ProjectID, id)
	if err != nil {
		return result{}, fmt.Errorf("read new pipeline: %w", err)
	}
	if link != nil {
		if err := link(id); err != nil {
			return result{}, err
		}
	}
	res := result{outcome: event.PipelineOutcome(pl), pipelineID: id}
	if len(np.Jobs) > 0 {
		if res.touched, err = pipeline.Advance(ctx, q, id); err != nil {
			return result{}, err
		}
	}
	return res, nil
}

// storedResult returns what was already decided for an event.
func storedResult(ctx context.Context, q *store.Queries, eventID string) (result, bool, error) {
	pl, rej, err := q.EventResult(ctx, eventID)
	switch {
	case err != nil:
		return result{}, false, err
	case pl != nil:
		return result{outcome: event.PipelineOutcome(*pl), pipelineID: pl.ID}, true, nil
	case rej != nil:
		return result{outcome: event.RejectionOutcome(*rej)}, true, nil
	}
	return result{}, false, nil
}

// plan checks an event against the database and evaluates its CI config,
// returning the pipeline to insert or the reason not to.
func (c *creator) plan(ctx context.Context, q *store.Queries, ev *event.TriggerRequested) (*store.NewPipeline, *rejection, error) {
	notFound := rejectMessage(http.StatusNotFound, "404 Not Found")
	project, err := q.ProjectByID(ctx, ev.ProjectID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound, nil
	}
	if err != nil {
		return nil, nil, err
	}
	np := &store.NewPipeline{
		ProjectID: project.ID, EventID: ev.EventID, Ref: ev.Ref, Status: "created", Source: ev.Source,
		Inputs: ev.Inputs, TriggerPayload: ev.Payload, Variables: ev.Variables,
	}

	// Who triggers: re-checked here because the token may have been
	// revoked, or the job may have finished, since the ingress looked.
	var user *store.User
	var shortToken string
	switch ev.Source {
	case "trigger":
		t, err := q.TriggerByDigest(ctx, ev.TokenDigest)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if t.ProjectID != project.ID || t.Expired(time.Now()) {
			return nil, notFound, nil
		}
		np.TriggerID = &t.ID
		shortToken = t.ShortToken
		if t.OwnerID != nil {
			u, err := q.UserByID(ctx, *t.OwnerID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, nil, err
			}
			if err == nil {
				user = &u
			}
		}
	case "pipeline":
		job, err := q.JobByTokenDigest(ctx, ev.TokenDigest)
		if errors.Is(err, store.ErrNotFound) || (err == nil && job.ID != ev.UpstreamJobID) {
			return nil, notFound, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if job.Status != "running" {
			return nil, rejectMessage(http.StatusUnauthorized, msgJobNotRunning), nil
		}
		if job.ProjectID != project.ID {
			ok, err := q.AllowlistContains(ctx, project.ID, job.ProjectID)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return nil, notFound, nil
			}
		}
		np.UpstreamJobID, np.UpstreamPipelineID, np.UpstreamProjectID = &job.ID, &job.PipelineID, &job.ProjectID
		if job.UserID != nil {
			u, err := q.UserByID(ctx, *job.UserID)
			if err != nil {
				return nil, nil, err
			}
			user = &u
		}
	case "schedule":
		sched, err := q.ScheduleByID(ctx, project.ID, ev.ScheduleID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound, nil
		}
		if err != nil {
			return nil, nil, err
		}
		vars, err := q.ScheduleVariables(ctx, sched.ID)
		if err != nil {
			return nil, nil, err
		}
		np.ScheduleID = &sched.ID
		np.Ref = strings.TrimPrefix(strings.TrimPrefix(sched.Ref, "refs/heads/"), "refs/tags/")
		np.Variables = vars
		if sched.OwnerID == nil {
			return nil, rejectMessage(http.StatusForbidden, msgScheduleNoOwner), nil
		}
		u, err := q.UserByID(ctx, *sched.OwnerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		level := store.NoAccess
		if err == nil && u.State == "active" {
			if u.IsAdmin {
				level = store.Owner
			} else if level, err = q.AccessLevel(ctx, u.ID, project.ID); err != nil {
				return nil, nil, err
			}
		}
		// The owner must still be able to run pipelines here, as GitLab
		// requires; a schedule whose owner left creates nothing.
		if level < store.Developer {
			return nil, rejectMessage(http.StatusForbidden, msgScheduleOwnerNoAccess), nil
		}
		user = &u
	default:
		return nil, rejectMessage(http.StatusBadRequest, "400 Bad request - unknown pipeline source"), nil
	}
	if user != nil {
		np.UserID = &user.ID
	}
	return c.build(ctx, q, project, np, user, ev, shortToken)
}

// build resolves np's ref to its commit and evaluates the project's CI config
// there for the event, filling in np's jobs, or returns why no pipeline can
// be made. np.Ref is the ref to resolve.
func (c *creator) build(ctx context.Context, q *store.Queries, project store.Project, np *store.NewPipeline, user *store.User,
	ev *event.TriggerRequested, shortToken string) (*store.NewPipeline, *rejection, error) {
	refs, err := q.RefsNamed(ctx, project.ID, np.Ref)
	if err != nil {
		return nil, nil, err
	}
	switch len(refs) {
	case 0:
		rej := rejectBase(http.StatusBadRequest, msgRefNotFound)
		rej.refNotFound = true
		return nil, rej, nil
	case 1:
	default:
		return nil, rejectBase(http.StatusBadRequest, msgRefAmbiguous), nil
	}
	ref := refs[0]
	np.Tag = ref.Kind == "tag"
	commit, err := q.CommitBySHA(ctx, project.ID, ref.CommitSHA)
	if err != nil {
		return nil, nil, fmt.Errorf("commit %s of %s: %w", ref.CommitSHA, ref.Name, err)
	}
	np.SHA = commit.SHA
	np.CommittedAt = &commit.CommittedDate

	// The commit's tree names the config's blob; its content is read only
	// when that blob was never parsed.
	blob, ok := commit.Tree[project.CIConfigPath]
	if !ok {
		return nil, rejectBase(http.StatusBadRequest, msgMissingConfig), nil
	}
	cfg, err := c.parse(blob, func() ([]byte, error) { return q.Blob(ctx, blob) })
	if err != nil {
		return failedPipeline(np, err)
	}
	// The pipeline's own variables (the trigger's, a schedule's, a
	// bridge's forwarded ones) are what rules see with top precedence.
	vars := make(map[string]string, len(np.Variables))
	for _, v := range np.Variables {
		vars[v.Key] = v.Value
	}
	pre := predefined(project, commit, ref, user, ev, shortToken)
	if np.PredefinedVariables, err = json.Marshal(pre); err != nil {
		return nil, nil, err
	}
	p, err := cfg.Evaluate(ciconfig.Context{Source: ev.Source, Ref: ref.Name, Tag: np.Tag, Variables: vars, Predefined: pre})
	switch {
	case errors.Is(err, ciconfig.ErrNoJobs):
		return nil, rejectBase(http.StatusBadRequest, msgNoJobs), nil
	case errors.Is(err, ciconfig.ErrWorkflowPrevented):
		return nil, rejectBase(http.StatusBadRequest, msgWorkflowFiltered), nil
	case err != nil:
		return failedPipeline(np, err)
	}
	jobs, err := newJobs(p)
	if err != nil {
		return nil, nil, err
	}
	np.Jobs = jobs
	return np, nil, nil
}

// failedPipeline keeps a pipeline whose config is invalid, failed with its
// yaml_errors, as GitLab does, so the user can see why nothing ran.
func failedPipeline(np *store.NewPipeline, cfgErr error) (*store.NewPipeline, *rejection, error) {
	var ce *ciconfig.ConfigError
	if !errors.As(cfgErr, &ce) {
		return nil, nil, cfgErr
	}
	msg := ce.Error()
	reason := "config_error"
	np.Status, np.YAMLErrors, np.FailureReason = "failed", &msg, &reason
	np.Jobs = nil
	return np, nil, nil
}

// newJobs turns a plan into job rows. Each job's spec resolves its YAML
// variables now (global and workflow variables it inherits, then its own), so
// running it later needs only the row.
func newJobs(p *ciconfig.Plan) ([]store.NewJob, error) {
	globals := make([]string, 0, len(p.Variables))
	for k := range p.Variables {
		globals = append(globals, k)
	}
	sort.Strings(globals)
	jobs := make([]store.NewJob, 0, len(p.Jobs))
	for _, j := range p.Jobs {
		spec := store.JobSpec{
			BeforeScript: j.BeforeScript, Script: j.Script, AfterScript: j.AfterScript, Needs: j.Needs,
			AllowFailureExitCodes: j.AllowFailureExitCodes, StartIn: j.StartIn,
		}
		inherit := map[string]bool{}
		for _, k := range j.InheritVariables {
			inherit[k] = true
		}
		for _, k := range globals {
			if _, own := j.Variables[k]; own || (j.InheritVariables != nil && !inherit[k]) {
				continue
			}
			spec.Variables = append(spec.Variables, store.Variable{Key: k, Value: p.Variables[k], VariableType: "env_var"})
		}
		own := make([]string, 0, len(j.Variables))
		for k := range j.Variables {
			own = append(own, k)
		}
		sort.Strings(own)
		for _, k := range own {
			spec.Variables = append(spec.Variables, store.Variable{Key: k, Value: j.Variables[k], VariableType: "env_var"})
		}
		if t := j.Trigger; t != nil {
			spec.Trigger = &store.TriggerSpec{Project: t.Project, Branch: t.Branch, Strategy: t.Strategy,
				ForwardYAMLVariables: t.ForwardYAMLVariables, ForwardPipelineVariables: t.ForwardPipelineVariables}
		}
		if a := j.Artifacts; a != nil {
			spec.Artifacts = &store.ArtifactsSpec{Paths: a.Paths, When: a.When, ExpireIn: a.ExpireIn, Name: a.Name}
		}
		raw, err := json.Marshal(spec)
		if err != nil {
			return nil, fmt.Errorf("encode job %s: %w", j.Name, err)
		}
		kind := "build"
		if j.Trigger != nil {
			kind = "bridge"
		}
		jobs = append(jobs, store.NewJob{
			Kind: kind, Name: j.Name, Stage: j.Stage, StageIdx: j.StageIndex, Status: "created",
			When: j.When, AllowFailure: j.AllowFailure, Spec: raw,
		})
	}
	return jobs, nil
}
