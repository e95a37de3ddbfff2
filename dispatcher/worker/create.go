package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/triggerd/triggerd/internal/ciconfig"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/pipestate"
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
	msgThrottled        = "Too many pipelines created in the last minute. Try again later."
	// Why a schedule created nothing.
	msgScheduleNoOwner       = "403 Forbidden - The pipeline schedule has no owner; take ownership to run it"
	msgScheduleOwnerNoAccess = "403 Forbidden - The owner of the pipeline schedule cannot run pipelines in this project"
)

// creator decides trigger events. It caches parsed CI configs by their git
// blob id: the id names the content, so an entry can never be stale, and
// the thousands of triggers of one project's config parse it once.
type creator struct {
	configs *lru.Cache[string, parsedConfig]
	commits *lru.Cache[store.ProjectRef, store.Commit]
	limits  Limits
	rate    RateLimits
}

// RateLimits bound how many pipelines may be created in any minute, as
// GitLab's pipeline creation rate limit does; zero is no limit. Bridges'
// downstream pipelines are not counted against them.
type RateLimits struct {
	// Project is per project.
	Project int
	// Token is per trigger token.
	Token int
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

func newCreator(cacheSize int, limits Limits, rate RateLimits) *creator {
	configs, err := lru.New[string, parsedConfig](cacheSize)
	if err != nil {
		panic(err) // only for a non-positive size, which newCreator never passes
	}
	commits, err := lru.New[store.ProjectRef, store.Commit](cacheSize)
	if err != nil {
		panic(err)
	}
	if limits.MaxDepth <= 0 {
		limits.MaxDepth = DefaultMaxDepth
	}
	if limits.MaxHierarchySize <= 0 {
		limits.MaxHierarchySize = DefaultMaxHierarchySize
	}
	return &creator{configs: configs, commits: commits, limits: limits, rate: rate}
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
	// stored is set when the outcome was decided before (a redelivery, or
	// a copy of the event), not now: for the metrics.
	stored bool
	// jobs are the new pipeline's pending builds, put on JOBS after the
	// commit.
	jobs []store.JobRef
	// touched are pipelines whose follow-ups must be published after the
	// commit by pipeline.PublishPending: a new pipeline with bridges to
	// fan out, a bridge's upstream chain.
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
	rs, err := c.processBatch(ctx, q, []*event.TriggerRequested{ev})
	if err != nil {
		return result{}, err
	}
	return rs[0], nil
}

// batchReads are the reads that deciding a batch of events starts with, all
// in one round trip: what was already decided for the events, and the
// lookup's first reads.
type batchReads struct {
	results store.EventResults
	l       *lookup
	first   *firstReads
}

// lookup is the batch's lookup, holding what the first reads found and
// reading the rest on q.
func (r *batchReads) lookup(q *store.Queries) *lookup {
	r.l.q = q
	r.l.fill(r.first)
	return r.l
}

// queueReads queues the first reads of deciding evs on b.
func (c *creator) queueReads(b *store.Batch, evs []*event.TriggerRequested) *batchReads {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.EventID
	}
	l := newLookup(nil, c.commits)
	return &batchReads{results: b.EventResults(ids), l: l, first: l.queueFirst(b, evs)}
}

// processBatch decides events that are not a bridge's, inside one
// transaction, and returns their results in order: the outcome already
// stored for an event, or the pipeline (or the rejection) made now. Reads
// and writes are done in bulk for the whole batch. Copies of one event in
// the batch share its result. An error is an infrastructure failure, or
// another dispatcher deciding one of the events at the same time
// (store.ErrDuplicate): nothing is kept, and the caller retries.
func (c *creator) processBatch(ctx context.Context, q *store.Queries, evs []*event.TriggerRequested) ([]result, error) {
	var b store.Batch
	reads := c.queueReads(&b, evs)
	if err := q.Send(ctx, &b); err != nil {
		return nil, err
	}
	return c.processRead(ctx, q, evs, reads)
}

// processRead is processBatch once the reads queued by queueReads are in.
func (c *creator) processRead(ctx context.Context, q *store.Queries, evs []*event.TriggerRequested, reads *batchReads) ([]result, error) {
	results := make([]result, len(evs))
	pls, rejs := reads.results.ByEvent()
	var fresh []*event.TriggerRequested
	freshIdx := []int{}
	first := map[string]int{}
	copies := map[int]int{}
	for i, ev := range evs {
		if pl, ok := pls[ev.EventID]; ok {
			results[i] = storedPipeline(pl)
		} else if rej, ok := rejs[ev.EventID]; ok {
			results[i] = result{outcome: event.RejectionOutcome(rej), stored: true}
		} else if j, ok := first[ev.EventID]; ok {
			copies[i] = j
		} else {
			first[ev.EventID] = i
			fresh, freshIdx = append(fresh, ev), append(freshIdx, i)
		}
	}
	if len(fresh) > 0 {
		decided, err := c.decide(ctx, q, reads.lookup(q), fresh)
		if err != nil {
			return nil, err
		}
		for k, i := range freshIdx {
			results[i] = decided[k]
		}
	}
	for i, j := range copies {
		results[i] = results[j]
		results[i].stored = true
	}
	return results, nil
}

// decide plans new events and writes what they decided: the pipelines, the
// rejections, and why schedules created nothing. l holds the first reads
// of evs.
func (c *creator) decide(ctx context.Context, q *store.Queries, l *lookup, evs []*event.TriggerRequested) ([]result, error) {
	if err := l.prefetchRest(ctx, evs); err != nil {
		return nil, err
	}
	planned := make([]*store.NewPipeline, len(evs))
	refused := make([]*rejection, len(evs))
	for i, ev := range evs {
		var err error
		if planned[i], refused[i], err = c.plan(ctx, l, ev); err != nil {
			return nil, err
		}
	}
	if err := c.throttle(ctx, q, planned, refused); err != nil {
		return nil, err
	}
	results := make([]result, len(evs))
	var nps []store.NewPipeline
	var npIdx []int
	var rejections []store.Rejection
	scheduleErrors := map[int64]string{}
	for i, ev := range evs {
		rej := refused[i]
		if ev.ScheduleID != 0 {
			// A schedule shows why its last run created nothing.
			scheduleErrors[ev.ScheduleID] = ""
			if rej != nil {
				scheduleErrors[ev.ScheduleID] = rej.reason()
			}
		}
		if rej == nil {
			nps, npIdx = append(nps, *planned[i]), append(npIdx, i)
			continue
		}
		r, err := rej.record(ev)
		if err != nil {
			return nil, err
		}
		rejections = append(rejections, r)
		results[i] = result{outcome: event.RejectionOutcome(r)}
	}
	if err := q.InsertRejections(ctx, rejections); err != nil {
		return nil, fmt.Errorf("record rejections: %w", err)
	}
	// Only what changes is written: a burst of schedules that ran fine
	// before and now would otherwise update every one of them.
	for id, reason := range scheduleErrors {
		if sc := l.schedules[id]; sc != nil && (sc.LastError == nil && reason == "" || sc.LastError != nil && *sc.LastError == reason) {
			delete(scheduleErrors, id)
		}
	}
	if err := q.SetScheduleErrors(ctx, scheduleErrors); err != nil {
		return nil, fmt.Errorf("record schedule outcomes: %w", err)
	}
	created, err := c.insert(ctx, q, nps)
	if err != nil {
		return nil, err
	}
	for k, i := range npIdx {
		results[i] = created[k]
	}
	return results, nil
}

// throttle refuses the planned pipelines past the rate limits, with GitLab's
// answer: a project, or a trigger token, may create so many pipelines in
// any minute. The count is of the pipelines created in the last minute plus
// those of the batch allowed before; two batches deciding at the same time
// may each let through the last few.
func (c *creator) throttle(ctx context.Context, q *store.Queries, planned []*store.NewPipeline, refused []*rejection) error {
	if c.rate.Project <= 0 && c.rate.Token <= 0 {
		return nil
	}
	var projects, triggers []int64
	for _, np := range planned {
		if np != nil {
			projects = append(projects, np.ProjectID)
			if np.TriggerID != nil {
				triggers = append(triggers, *np.TriggerID)
			}
		}
	}
	if len(projects) == 0 {
		return nil
	}
	byProject, byTrigger, err := q.RecentPipelines(ctx, unique(projects), unique(triggers), time.Now().Add(-time.Minute))
	if err != nil {
		return fmt.Errorf("count recent pipelines: %w", err)
	}
	for i, np := range planned {
		if np == nil {
			continue
		}
		over := c.rate.Project > 0 && byProject[np.ProjectID] >= c.rate.Project
		if np.TriggerID != nil && c.rate.Token > 0 && byTrigger[*np.TriggerID] >= c.rate.Token {
			over = true
		}
		if over {
			planned[i], refused[i] = nil, rejectBase(http.StatusBadRequest, msgThrottled)
			continue
		}
		byProject[np.ProjectID]++
		if np.TriggerID != nil {
			byTrigger[*np.TriggerID]++
		}
	}
	return nil
}

// record is the rejection stored for ev.
func (r *rejection) record(ev *event.TriggerRequested) (store.Rejection, error) {
	body, err := json.Marshal(r.body)
	if err != nil {
		return store.Rejection{}, err
	}
	return store.Rejection{EventID: ev.EventID, ProjectID: ev.ProjectID, Status: r.status, Body: body}, nil
}

// reject stores a rejection of the event and answers with it.
func reject(ctx context.Context, q *store.Queries, ev *event.TriggerRequested, rej *rejection) (result, error) {
	r, err := rej.record(ev)
	if err != nil {
		return result{}, err
	}
	if err := q.InsertRejections(ctx, []store.Rejection{r}); err != nil {
		return result{}, fmt.Errorf("record rejection: %w", err)
	}
	return result{outcome: event.RejectionOutcome(r)}, nil
}

// insert writes planned pipelines, already released (see release), and
// answers for each with the pipeline as created.
func (c *creator) insert(ctx context.Context, q *store.Queries, nps []store.NewPipeline) ([]result, error) {
	if len(nps) == 0 {
		return nil, nil
	}
	pls, jobs, err := q.CreatePipelines(ctx, nps)
	if err != nil {
		return nil, fmt.Errorf("insert pipelines: %w", err)
	}
	for i, np := range nps {
		if np.UpstreamPipelineID != nil {
			if err := q.SetDownstreamLineage(ctx, pls[i].ID, *np.UpstreamPipelineID); err != nil {
				return nil, fmt.Errorf("place downstream pipeline: %w", err)
			}
		}
	}
	// The answer shows each pipeline as created, as GitLab's does.
	results := make([]result, len(pls))
	index := make(map[int64]int, len(pls))
	for i, pl := range pls {
		if len(nps[i].Jobs) > 0 {
			pl = asCreated(pl)
		}
		results[i] = result{outcome: event.PipelineOutcome(pl), pipelineID: pl.ID}
		index[pl.ID] = i
	}
	for _, j := range jobs {
		if j.Status != pipestate.StatusPending {
			continue
		}
		r := &results[index[j.PipelineID]]
		if j.Kind == "bridge" {
			if len(r.touched) == 0 {
				r.touched = []int64{j.PipelineID}
			}
			continue
		}
		r.jobs = append(r.jobs, j.JobRef)
	}
	return results, nil
}

// asCreated is a new pipeline as GitLab answers it when triggered: created,
// before any processing, even though its first jobs were released in the
// same transaction.
func asCreated(pl store.Pipeline) store.Pipeline {
	pl.Status, pl.Warnings = "created", false
	pl.StartedAt, pl.FinishedAt, pl.Duration, pl.QueuedDuration = nil, nil, nil, nil
	return pl
}

// create inserts one planned pipeline. link, when set, runs right after the
// insert with the new pipeline's id, in the same transaction (a bridge
// links its downstream), and the pipeline is then processed, so that one
// finished at once carries its status up to the bridge.
func (c *creator) create(ctx context.Context, q *store.Queries, np *store.NewPipeline, link func(id int64) error) (result, error) {
	rs, err := c.insert(ctx, q, []store.NewPipeline{*np})
	if err != nil {
		return result{}, err
	}
	res := rs[0]
	if err := link(res.pipelineID); err != nil {
		return result{}, err
	}
	if len(np.Jobs) == 0 {
		return res, nil // failed by its config: nothing to process
	}
	touched, err := pipeline.Advance(ctx, q, res.pipelineID)
	if err != nil {
		return result{}, err
	}
	res.touched = append(res.touched, touched...)
	return res, nil
}

// storedPipeline is the result of an event whose pipeline exists. A
// redelivery after the commit may have lost the publications that followed
// it, so the pipeline's follow-ups are published again.
func storedPipeline(pl store.Pipeline) result {
	return result{outcome: event.PipelineOutcome(pl), pipelineID: pl.ID, touched: []int64{pl.ID}, stored: true}
}

// storedResult returns what was already decided for an event.
func storedResult(ctx context.Context, q *store.Queries, eventID string) (result, bool, error) {
	pl, rej, err := q.EventResult(ctx, eventID)
	switch {
	case err != nil:
		return result{}, false, err
	case pl != nil:
		return storedPipeline(*pl), true, nil
	case rej != nil:
		return result{outcome: event.RejectionOutcome(*rej), stored: true}, true, nil
	}
	return result{}, false, nil
}

// plan checks an event against the database and evaluates its CI config,
// returning the pipeline to insert or the reason not to.
func (c *creator) plan(ctx context.Context, l *lookup, ev *event.TriggerRequested) (*store.NewPipeline, *rejection, error) {
	notFound := rejectMessage(http.StatusNotFound, "404 Not Found")
	project, err := l.project(ctx, ev.ProjectID)
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
		t, err := l.trigger(ctx, ev.TokenDigest)
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
			u, err := l.user(ctx, *t.OwnerID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, nil, err
			}
			if err == nil {
				user = &u
			}
		}
	case "pipeline":
		job, err := l.q.JobByTokenDigest(ctx, ev.TokenDigest)
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
			ok, err := l.q.AllowlistContains(ctx, project.ID, job.ProjectID)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return nil, notFound, nil
			}
		}
		np.UpstreamJobID, np.UpstreamPipelineID, np.UpstreamProjectID = &job.ID, &job.PipelineID, &job.ProjectID
		if job.UserID != nil {
			u, err := l.user(ctx, *job.UserID)
			if err != nil {
				return nil, nil, err
			}
			user = &u
		}
	case "schedule":
		sched, err := l.schedule(ctx, project.ID, ev.ScheduleID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound, nil
		}
		if err != nil {
			return nil, nil, err
		}
		vars, err := l.scheduleVariables(ctx, sched.ID)
		if err != nil {
			return nil, nil, err
		}
		np.ScheduleID = &sched.ID
		np.Ref = scheduleRef(sched)
		np.Variables = vars
		if sched.OwnerID == nil {
			return nil, rejectMessage(http.StatusForbidden, msgScheduleNoOwner), nil
		}
		u, err := l.user(ctx, *sched.OwnerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		level := store.NoAccess
		if err == nil && u.State == "active" {
			if u.IsAdmin {
				level = store.Owner
			} else if level, err = l.accessLevel(ctx, u.ID, project.ID); err != nil {
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
	return c.build(ctx, l, project, np, user, ev, shortToken)
}

// build resolves np's ref to its commit and evaluates the project's CI config
// there for the event, filling in np's jobs, or returns why no pipeline can
// be made. np.Ref is the ref to resolve.
func (c *creator) build(ctx context.Context, l *lookup, project store.Project, np *store.NewPipeline, user *store.User,
	ev *event.TriggerRequested, shortToken string) (*store.NewPipeline, *rejection, error) {
	refs, err := l.refsNamed(ctx, project.ID, np.Ref)
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
	commit, err := l.commit(ctx, project.ID, ref.CommitSHA)
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
	cfg, err := c.parse(blob, func() ([]byte, error) { return l.q.Blob(ctx, blob) })
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
	release(np, p)
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

// release applies GitLab's processing to a new pipeline's jobs before they
// are inserted, as pipeline.Advance would right after: the first jobs become
// pending (or manual, scheduled, skipped) and the pipeline takes the
// composed status. The pipeline is then written once, already released.
func release(np *store.NewPipeline, p *ciconfig.Plan) {
	jobs := make([]pipestate.Job, len(p.Jobs))
	for i, j := range p.Jobs {
		jobs[i] = pipestate.Job{ID: int64(i + 1), Name: j.Name, StageIdx: j.StageIndex, Status: np.Jobs[i].Status,
			When: j.When, AllowFailure: j.AllowFailure, Needs: j.Needs}
	}
	for _, t := range pipestate.Advance(jobs) {
		jobs[t.JobID-1].Status = t.To
		np.Jobs[t.JobID-1].Status = t.To
	}
	status, warnings := pipestate.Status(jobs)
	np.Status = status
	np.Released = store.Released{Warnings: warnings, Finished: pipestate.Finished(status)}
}
