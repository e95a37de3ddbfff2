package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// hierarchy is a database with an admin (root), a plain user (dev) and the
// projects each test makes.
type hierarchy struct {
	t     *testing.T
	ctx   context.Context
	pool  *pgxpool.Pool
	q     *store.Queries
	c     *creator
	admin store.User
	dev   store.User
	n     int
}

func newHierarchy(t *testing.T, limits Limits) *hierarchy {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	q := store.New(pool)
	admin, err := q.EnsureAdmin(ctx, secret.Digest("admin"))
	require.NoError(t, err)
	dev, err := q.CreateUser(ctx, store.NewUser{Username: "dev", Name: "Dev", Email: "dev@example.com"})
	require.NoError(t, err)
	return &hierarchy{t: t, ctx: ctx, pool: pool, q: q, c: newCreator(16, limits, RateLimits{}), admin: admin, dev: dev}
}

// project makes owner/path with ci committed on master.
func (h *hierarchy) project(owner store.User, path, ci string) store.Project {
	h.t.Helper()
	var id int64
	require.NoError(h.t, h.pool.QueryRow(h.ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace, default_branch)
		SELECT id, $2, $2, path || '/' || $2, 'master' FROM namespaces WHERE owner_id = $1 RETURNING id`, owner.ID, path).Scan(&id))
	if ci != "" {
		h.commit(id, "master", "create", ci)
	}
	p, err := h.q.ProjectByID(h.ctx, id)
	require.NoError(h.t, err)
	return p
}

func (h *hierarchy) commit(projectID int64, branch, action, ci string) {
	h.t.Helper()
	start := ""
	if branch != "master" {
		start = "master"
	}
	require.NoError(h.t, store.InTx(h.ctx, h.pool, func(q *store.Queries) error {
		_, _, err := q.CommitFiles(h.ctx, store.CommitRequest{ProjectID: projectID, Branch: branch, StartBranch: start,
			Message: "ci", AuthorName: "A", AuthorEmail: "a@example.com",
			Actions: []store.FileAction{{Action: action, Path: ".gitlab-ci.yml", Content: []byte(ci)}}})
		return err
	}))
}

// trigger creates a pipeline of p on master as owner, through a trigger
// token of owner's, and returns it.
func (h *hierarchy) trigger(p store.Project, owner store.User) store.Pipeline {
	h.t.Helper()
	tok := secret.NewTriggerToken()
	sealer, err := secret.NewSealer("k")
	require.NoError(h.t, err)
	trig, err := h.q.CreateTrigger(h.ctx, store.NewTrigger{ProjectID: p.ID, OwnerID: owner.ID, Description: "d",
		Digest: secret.Digest(tok), TokenEnc: sealer.Seal(tok), ShortToken: secret.ShortToken(tok)})
	require.NoError(h.t, err)
	h.n++
	res, err := h.process(&event.TriggerRequested{EventID: fmt.Sprintf("ev-%s-%d", p.Path, h.n), ProjectID: p.ID,
		Ref: "master", Source: "trigger", TriggerID: trig.ID, TokenDigest: secret.Digest(tok)})
	require.NoError(h.t, err)
	require.Equal(h.t, http.StatusCreated, res.outcome.Status, "%s", res.outcome.Body)
	return h.pipeline(res.pipelineID)
}

func (h *hierarchy) process(ev *event.TriggerRequested) (result, error) {
	var res result
	err := store.InTx(h.ctx, h.pool, func(q *store.Queries) error {
		var err error
		res, err = h.c.process(h.ctx, q, ev)
		return err
	})
	return res, err
}

func (h *hierarchy) processFinal(ev *event.TriggerRequested) result {
	h.t.Helper()
	var res result
	require.NoError(h.t, store.InTx(h.ctx, h.pool, func(q *store.Queries) error {
		var err error
		res, err = h.c.processBridge(h.ctx, q, ev, true)
		return err
	}))
	return res
}

func (h *hierarchy) pipeline(id int64) store.Pipeline {
	h.t.Helper()
	pl, err := h.q.PipelineByIDAnyProject(h.ctx, id)
	require.NoError(h.t, err)
	return pl
}

func (h *hierarchy) bridge(id int64) store.Job {
	h.t.Helper()
	b, err := h.q.BridgeByID(h.ctx, id)
	require.NoError(h.t, err)
	return b
}

// bridgeEvent is the fan-out event of the one pending bridge of a pipeline.
func (h *hierarchy) bridgeEvent(pipelineID int64) (*event.TriggerRequested, store.Job) {
	h.t.Helper()
	bridges, err := h.q.PendingBridges(h.ctx, pipelineID)
	require.NoError(h.t, err)
	require.Len(h.t, bridges, 1)
	ev, err := pipeline.BridgeEvent(h.ctx, h.q, bridges[0])
	require.NoError(h.t, err)
	return &ev, bridges[0]
}

// finishJobs runs every pending build of a pipeline to status and
// processes the pipeline, as the dispatcher does for runner results.
func (h *hierarchy) finishJobs(pipelineID int64, status string) []int64 {
	h.t.Helper()
	builds, err := h.q.PendingBuilds(h.ctx, pipelineID)
	require.NoError(h.t, err)
	require.NotEmpty(h.t, builds)
	var touched []int64
	require.NoError(h.t, store.InTx(h.ctx, h.pool, func(q *store.Queries) error {
		for _, b := range builds {
			if _, _, err := q.ClaimJob(h.ctx, store.Claim{JobID: b.ID, Runner: "r", TokenDigest: secret.Digest(secret.NewJobToken())}); err != nil {
				return err
			}
			if _, err := q.FinishJob(h.ctx, b.ID, status, 0, "", "", false); err != nil {
				return err
			}
		}
		var err error
		touched, err = pipeline.Advance(h.ctx, q, pipelineID)
		return err
	}))
	return touched
}

func (h *hierarchy) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.pool.QueryRow(h.ctx, sql, args...).Scan(&n))
	return n
}

const leafCI = "leaf:\n  script: [x]\n"

func TestProcessBridgeLinksDownstreamAndInheritsStatus(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	b := h.project(h.admin, "b", leafCI)
	a := h.project(h.admin, "a", `variables:
  GLOBAL: g
stages: [trigger, after]
to_b:
  stage: trigger
  variables:
    FOO: bar
  trigger:
    project: root/b
    strategy: depend
    forward:
      pipeline_variables: true
after:
  stage: after
  script: [x]
`)
	plA := h.trigger(a, h.admin)
	require.Equal(t, "pending", plA.Status, "the released bridge waits like any job")

	ev, bridge := h.bridgeEvent(plA.ID)
	require.Equal(t, "bridge-"+itoa(bridge.ID), ev.EventID)
	require.Equal(t, b.ID, ev.ProjectID)
	require.Equal(t, "master", ev.Ref, "the default branch without trigger:branch")
	require.Equal(t, "pipeline", ev.Source)
	require.Equal(t, []store.Variable{{Key: "FOO", Value: "bar", VariableType: "env_var"}, {Key: "GLOBAL", Value: "g", VariableType: "env_var"}},
		ev.Variables, "the bridge's YAML variables, global ones included")

	res, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.outcome.Status, "%s", res.outcome.Body)
	require.Contains(t, res.touched, plA.ID, "the upstream is published after the commit")
	plB := h.pipeline(res.pipelineID)
	require.Equal(t, b.ID, plB.ProjectID)
	require.Equal(t, "pipeline", plB.Source)
	require.Equal(t, bridge.ID, *plB.UpstreamJobID)
	require.Equal(t, plA.ID, *plB.UpstreamPipelineID)
	require.Equal(t, a.ID, *plB.UpstreamProjectID)
	require.Equal(t, h.admin.ID, *plB.UserID)
	require.Equal(t, "pending", plB.Status)
	vars, err := h.q.PipelineVariables(h.ctx, plB.ID)
	require.NoError(t, err)
	require.Equal(t, ev.Variables, vars)
	rc, err := h.q.JobRunContext(h.ctx, mustPendingBuild(t, h, plB.ID))
	require.NoError(t, err)
	require.NoError(t, runPredefined(h.ctx, h.q, &rc))
	require.Equal(t, "pipeline", rc.PredefinedVariables["CI_PIPELINE_SOURCE"])
	lineage, err := h.q.PipelineLineage(h.ctx, plB.ID)
	require.NoError(t, err)
	require.Equal(t, store.Lineage{Depth: 1, RootID: plA.ID}, lineage)

	linked := h.bridge(bridge.ID)
	require.Equal(t, "running", linked.Status, "a depend bridge waits for its downstream")
	require.Equal(t, plB.ID, *linked.DownstreamPipelineID)
	require.NotNil(t, linked.StartedAt)
	require.Equal(t, "running", h.pipeline(plA.ID).Status)

	// A redelivery re-links nothing and makes no second pipeline.
	again, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, plB.ID, again.pipelineID)
	require.Contains(t, again.touched, plA.ID)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM pipelines WHERE project_id = $1`, b.ID))
	require.Equal(t, linked.UpdatedAt, h.bridge(bridge.ID).UpdatedAt)

	// B finishing resolves the bridge and releases A's next stage, in the
	// same transaction.
	touched := h.finishJobs(plB.ID, "success")
	require.Equal(t, []int64{plB.ID, plA.ID}, touched)
	require.Equal(t, "success", h.bridge(bridge.ID).Status)
	require.NotNil(t, h.bridge(bridge.ID).FinishedAt)
	_ = mustPendingBuild(t, h, plA.ID)
	require.Equal(t, "running", h.pipeline(plA.ID).Status)
}

func mustPendingBuild(t *testing.T, h *hierarchy, pipelineID int64) int64 {
	t.Helper()
	builds, err := h.q.PendingBuilds(h.ctx, pipelineID)
	require.NoError(t, err)
	require.Len(t, builds, 1)
	return builds[0].ID
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestProcessBridgeWithoutStrategySucceedsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	h.project(h.admin, "b", leafCI)
	a := h.project(h.admin, "a", "to_b:\n  trigger: root/b\n")
	plA := h.trigger(a, h.admin)
	ev, bridge := h.bridgeEvent(plA.ID)
	res, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.outcome.Status)
	require.Equal(t, "success", h.bridge(bridge.ID).Status)
	require.Equal(t, "success", h.pipeline(plA.ID).Status, "the upstream is processed in the same transaction")
	// The downstream failing later changes nothing upstream.
	h.finishJobs(res.pipelineID, "failed")
	require.Equal(t, "failed", h.pipeline(res.pipelineID).Status)
	require.Equal(t, "success", h.bridge(bridge.ID).Status)
	require.Equal(t, "success", h.pipeline(plA.ID).Status)
}

func TestProcessBridgeChainFailsUpward(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	c := h.project(h.admin, "c", leafCI)
	b := h.project(h.admin, "b", "to_c:\n  trigger:\n    project: root/c\n    strategy: depend\n")
	a := h.project(h.admin, "a", "to_b:\n  trigger:\n    project: root/b\n    strategy: mirror\n")
	plA := h.trigger(a, h.admin)
	evB, bridgeA := h.bridgeEvent(plA.ID)
	resB, err := h.process(evB)
	require.NoError(t, err)
	evC, bridgeB := h.bridgeEvent(resB.pipelineID)
	resC, err := h.process(evC)
	require.NoError(t, err)
	require.Equal(t, c.ID, h.pipeline(resC.pipelineID).ProjectID)
	lineage, err := h.q.PipelineLineage(h.ctx, resC.pipelineID)
	require.NoError(t, err)
	require.Equal(t, store.Lineage{Depth: 2, RootID: plA.ID}, lineage)
	require.Equal(t, b.ID, h.pipeline(resB.pipelineID).ProjectID)

	touched := h.finishJobs(resC.pipelineID, "failed")
	require.Equal(t, []int64{resC.pipelineID, resB.pipelineID, plA.ID}, touched)
	for _, id := range []int64{bridgeA.ID, bridgeB.ID} {
		require.Equal(t, "failed", h.bridge(id).Status)
	}
	for _, id := range []int64{resC.pipelineID, resB.pipelineID, plA.ID} {
		require.Equal(t, "failed", h.pipeline(id).Status)
	}
}

func TestProcessBridgeMissingRefIsRetriedThenFails(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	b := h.project(h.admin, "b", leafCI)
	a := h.project(h.admin, "a", `stages: [one, two]
to_b:
  stage: one
  trigger:
    project: root/b
    branch: feature
cleanup:
  stage: two
  when: on_failure
  script: [x]
`)
	plA := h.trigger(a, h.admin)
	ev, bridge := h.bridgeEvent(plA.ID)
	require.Equal(t, "feature", ev.Ref)

	// Not a rejection: nothing is stored, the bridge waits.
	_, err := h.process(ev)
	require.ErrorIs(t, err, errDownstreamRefMissing)
	pl, rej, err := h.q.EventResult(h.ctx, ev.EventID)
	require.NoError(t, err)
	require.Nil(t, pl)
	require.Nil(t, rej)
	require.Equal(t, "pending", h.bridge(bridge.ID).Status)

	// The branch appears: the retry creates the pipeline.
	h.commit(b.ID, "feature", "update", leafCI+"# feature\n")
	res, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.outcome.Status)
	require.Equal(t, "feature", h.pipeline(res.pipelineID).Ref)

	// Another bridge whose branch never comes fails once its time is up,
	// and the upstream's on_failure job runs.
	a2 := h.project(h.admin, "a2", "to_b:\n  trigger:\n    project: root/b\n    branch: never\ncleanup:\n  stage: deploy\n  when: on_failure\n  script: [x]\n")
	plA2 := h.trigger(a2, h.admin)
	ev2, bridge2 := h.bridgeEvent(plA2.ID)
	_, err = h.process(ev2)
	require.ErrorIs(t, err, errDownstreamRefMissing)
	final := h.processFinal(ev2)
	require.Equal(t, http.StatusBadRequest, final.outcome.Status)
	require.JSONEq(t, `{"message":{"base":["Reference not found"]}}`, string(final.outcome.Body))
	require.Contains(t, final.touched, plA2.ID)
	failed := h.bridge(bridge2.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, pipeline.ReasonCreationFailed, *failed.FailureReason)
	_ = mustPendingBuild(t, h, plA2.ID)
	// The stored rejection answers a redelivery.
	again, err := h.process(ev2)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, again.outcome.Status)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM pipelines WHERE project_id = $1`, b.ID))
}

func TestProcessBridgePermissions(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	b := h.project(h.admin, "b", leafCI)
	a := h.project(h.dev, "a", "to_b:\n  trigger: root/b\n")

	// dev owns A but has no access to B.
	plA := h.trigger(a, h.dev)
	ev, bridge := h.bridgeEvent(plA.ID)
	res, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, res.outcome.Status)
	require.Zero(t, res.pipelineID)
	failed := h.bridge(bridge.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, pipeline.ReasonInsufficientPerms, *failed.FailureReason)
	require.Equal(t, "failed", h.pipeline(plA.ID).Status)
	require.Zero(t, h.count(`SELECT count(*) FROM pipelines WHERE project_id = $1`, b.ID))

	// A Reporter is not enough either; a Developer is.
	_, err = h.q.AddProjectMember(h.ctx, b.ID, h.dev.ID, store.Reporter, nil)
	require.NoError(t, err)
	ev, bridge = h.bridgeEvent(h.trigger(a, h.dev).ID)
	res, err = h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, res.outcome.Status)
	_, err = h.q.UpdateProjectMember(h.ctx, b.ID, h.dev.ID, store.Developer, false, nil)
	require.NoError(t, err)
	ev, bridge = h.bridgeEvent(h.trigger(a, h.dev).ID)
	res, err = h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.outcome.Status, "%s", res.outcome.Body)
	require.Equal(t, h.dev.ID, *h.pipeline(res.pipelineID).UserID)
	require.Equal(t, "success", h.bridge(bridge.ID).Status)
}

func TestProcessBridgeDepthLimit(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{MaxDepth: 1})
	h.project(h.admin, "c", leafCI)
	h.project(h.admin, "b", "to_c:\n  trigger: root/c\n")
	a := h.project(h.admin, "a", "to_b:\n  trigger:\n    project: root/b\n    strategy: depend\n")
	plA := h.trigger(a, h.admin)
	evB, _ := h.bridgeEvent(plA.ID)
	resB, err := h.process(evB)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resB.outcome.Status, "depth 1 is allowed")

	evC, bridgeB := h.bridgeEvent(resB.pipelineID)
	resC, err := h.process(evC)
	require.NoError(t, err)
	require.NotEqual(t, http.StatusCreated, resC.outcome.Status)
	failed := h.bridge(bridgeB.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, pipeline.ReasonMaxDepth, *failed.FailureReason)
	// B failed, so A's depend bridge and A fail too, in the same transaction.
	require.Equal(t, []int64{resB.pipelineID, plA.ID}, resC.touched)
	require.Equal(t, "failed", h.pipeline(resB.pipelineID).Status)
	require.Equal(t, "failed", h.pipeline(plA.ID).Status)
}

func TestProcessBridgeHierarchySizeLimit(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{MaxHierarchySize: 2})
	h.project(h.admin, "b", leafCI)
	h.project(h.admin, "c", leafCI)
	a := h.project(h.admin, "a", "to_b:\n  trigger: root/b\nto_c:\n  trigger: root/c\n")
	plA := h.trigger(a, h.admin)
	bridges, err := h.q.PendingBridges(h.ctx, plA.ID)
	require.NoError(t, err)
	require.Len(t, bridges, 2)
	var statuses []int
	for _, b := range bridges {
		ev, err := pipeline.BridgeEvent(h.ctx, h.q, b)
		require.NoError(t, err)
		res, err := h.process(&ev)
		require.NoError(t, err)
		statuses = append(statuses, res.outcome.Status)
	}
	require.Equal(t, []int{http.StatusCreated, http.StatusBadRequest}, statuses)
	require.Equal(t, pipeline.ReasonMaxHierarchySize, *h.bridge(bridges[1].ID).FailureReason)
}

func TestProcessBridgePermanentDownstreamFailures(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	h.project(h.admin, "broken", "job:\n  script: [x]\n  bogus: 1\n")
	h.project(h.admin, "nojobs", "job:\n  script: [x]\n  rules:\n    - if: $NEVER\n")
	h.project(h.admin, "empty", "")
	a := h.project(h.admin, "a", "b1:\n  trigger: root/broken\nb2:\n  trigger: root/nojobs\nb3:\n  trigger: root/empty\n")
	plA := h.trigger(a, h.admin)
	bridges, err := h.q.PendingBridges(h.ctx, plA.ID)
	require.NoError(t, err)
	require.Len(t, bridges, 3)
	for i, b := range bridges {
		ev, err := pipeline.BridgeEvent(h.ctx, h.q, b)
		require.NoError(t, err)
		res, err := h.process(&ev)
		if i == 2 {
			// A project without any branch: its ref may still come.
			require.ErrorIs(t, err, errDownstreamRefMissing)
			res = h.processFinal(&ev)
		} else {
			require.NoError(t, err)
		}
		got := h.bridge(b.ID)
		require.Equal(t, "failed", got.Status, b.Name)
		require.Equal(t, pipeline.ReasonCreationFailed, *got.FailureReason, b.Name)
		if i == 0 {
			// The config error keeps its failed downstream, linked.
			require.Equal(t, http.StatusUnprocessableEntity, res.outcome.Status)
			require.NotNil(t, got.DownstreamPipelineID)
			require.Equal(t, "failed", h.pipeline(*got.DownstreamPipelineID).Status)
		} else {
			require.Nil(t, got.DownstreamPipelineID)
			require.Equal(t, http.StatusBadRequest, res.outcome.Status)
		}
	}
	require.Equal(t, "failed", h.pipeline(plA.ID).Status)
}

func TestProcessBridgeNotPendingIsRejectedQuietly(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	b := h.project(h.admin, "b", leafCI)
	a := h.project(h.admin, "a", "to_b:\n  trigger: root/b\n")
	plA := h.trigger(a, h.admin)
	ev, bridge := h.bridgeEvent(plA.ID)
	_, err := h.pool.Exec(h.ctx, `UPDATE jobs SET status = 'canceled' WHERE id = $1`, bridge.ID)
	require.NoError(t, err)
	res, err := h.process(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, res.outcome.Status)
	require.Zero(t, res.pipelineID)
	require.Equal(t, "canceled", h.bridge(bridge.ID).Status)
	require.Zero(t, h.count(`SELECT count(*) FROM pipelines WHERE project_id = $1`, b.ID))
}

func TestPublishPendingFansOutBridges(t *testing.T) {
	t.Parallel()
	h := newHierarchy(t, Limits{})
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, broker.EnsureStreams(h.ctx, js, broker.StreamConfig{}))

	b := h.project(h.admin, "b", leafCI)
	// The bridge to a missing project fails at fan-out, which releases
	// the on_failure bridge and job of the next stage, fanned out in turn.
	a := h.project(h.admin, "a", `stages: [fan, after]
to_nowhere:
  stage: fan
  trigger: root/missing
to_b:
  stage: after
  when: on_failure
  trigger:
    project: root/b
    branch: main
rescue:
  stage: after
  when: on_failure
  script: [x]
`)
	plA := h.trigger(a, h.admin)
	require.NoError(t, pipeline.PublishPending(h.ctx, h.pool, js, plA.ID))
	require.NoError(t, pipeline.PublishPending(h.ctx, h.pool, js, plA.ID), "a repeat is harmless")

	list, _, err := h.q.JobsOfPipeline(h.ctx, plA.ID, "bridge", nil, store.Page{Number: 1, PerPage: 10})
	require.NoError(t, err)
	require.Len(t, list, 2)
	bridges := map[string]store.Job{}
	for _, b := range list {
		bridges[b.Name] = b
	}
	require.Equal(t, "pending", bridges["to_b"].Status)
	require.Equal(t, "failed", bridges["to_nowhere"].Status)
	require.Equal(t, pipeline.ReasonProjectNotFound, *bridges["to_nowhere"].FailureReason)

	// One event for the live bridge, however often it was published; the
	// failure released the on_failure job, which is on JOBS.
	st, err := js.Stream(h.ctx, event.TriggersStream)
	require.NoError(t, err)
	info, err := st.Info(h.ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
	msg, err := st.GetLastMsgForSubject(h.ctx, event.TriggerSubject(b.ID))
	require.NoError(t, err)
	require.Equal(t, pipeline.BridgeEventID(bridges["to_b"].ID), msg.Header.Get(jetstream.MsgIDHeader))
	var ev event.TriggerRequested
	require.NoError(t, json.Unmarshal(msg.Data, &ev))
	require.Equal(t, bridges["to_b"].ID, ev.BridgeID)
	require.Equal(t, "main", ev.Ref)
	jobs, err := js.Stream(h.ctx, event.JobsStream)
	require.NoError(t, err)
	jinfo, err := jobs.Info(h.ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), jinfo.State.Msgs)
}

func TestBridgeRetryDelay(t *testing.T) {
	t.Parallel()
	r := BridgeRetry{Initial: 100 * time.Millisecond, MaxElapsed: time.Minute}
	first := time.Now()
	d1, ok := r.delay(1, first, first)
	require.True(t, ok)
	require.InDelta(t, float64(100*time.Millisecond), float64(d1), float64(25*time.Millisecond))
	d5, ok := r.delay(5, first, first)
	require.True(t, ok)
	require.Greater(t, d5, 4*d1/2)
	d50, ok := r.delay(50, first, first)
	require.True(t, ok)
	require.LessOrEqual(t, d50, 37*time.Second, "bounded by the maximum interval")
	// Never past the deadline, and false once it passed.
	d, ok := r.delay(50, first, first.Add(59*time.Second))
	require.True(t, ok)
	require.LessOrEqual(t, d, time.Second)
	_, ok = r.delay(2, first, first.Add(time.Minute))
	require.False(t, ok)
	require.False(t, errors.Is(nil, errDownstreamRefMissing))
}
