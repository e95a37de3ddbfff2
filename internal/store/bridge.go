package store

import (
	"context"
)

// Bridges (trigger: jobs) and the links between pipelines they make.
//
// A bridge is a jobs row of kind 'bridge'. Once released ('pending') it is
// fanned out as a trigger event; creating its downstream pipeline sets
// downstream_pipeline_id and moves it on ('success', or 'running' while a
// strategy: depend or mirror bridge waits for its downstream). Every update
// here is conditional on the status it expects, so a canceled bridge or a
// repeat of the same update changes nothing.

// BridgeByID returns a bridge wherever it lives.
func (q *Queries) BridgeByID(ctx context.Context, id int64) (Job, error) {
	return collectOne[Job](q.db.Query(ctx, jobSelect+` WHERE j.id = $1 AND j.kind = 'bridge'`, id))
}

// BridgePipelineID returns the pipeline a bridge belongs to.
func (q *Queries) BridgePipelineID(ctx context.Context, id int64) (int64, error) {
	var pipelineID int64
	err := q.db.QueryRow(ctx, `SELECT pipeline_id FROM jobs WHERE id = $1 AND kind = 'bridge'`, id).Scan(&pipelineID)
	return pipelineID, mapErr(err)
}

// PendingBridges returns a pipeline's released bridges that have no
// downstream pipeline yet: what must be fanned out.
func (q *Queries) PendingBridges(ctx context.Context, pipelineID int64) ([]Job, error) {
	return collectAll[Job](q.db.Query(ctx, jobSelect+` WHERE j.pipeline_id = $1 AND j.kind = 'bridge'
		AND j.status = 'pending' AND j.downstream_pipeline_id IS NULL ORDER BY j.id`, pipelineID))
}

// FailBridge fails a pending bridge with a GitLab failure reason. It reports
// false when the bridge was not pending any more (canceled, or decided by
// another dispatcher), in which case nothing changed.
func (q *Queries) FailBridge(ctx context.Context, id int64, reason string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE jobs SET status = 'failed', failure_reason = $2, finished_at = now(), updated_at = now()
		WHERE id = $1 AND kind = 'bridge' AND status = 'pending'`, id, reason)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// LinkBridge records a pending bridge's downstream pipeline and moves the
// bridge to status, with failureReason when it failed. It reports false
// when the bridge was not pending or already linked.
func (q *Queries) LinkBridge(ctx context.Context, id, downstreamPipelineID int64, status string, failureReason *string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE jobs SET downstream_pipeline_id = $2, status = $3, failure_reason = $4,
			started_at = COALESCE(started_at, now()), updated_at = now(),
			finished_at = CASE WHEN $3 IN ('success', 'failed', 'canceled', 'skipped') THEN now() ELSE finished_at END
		WHERE id = $1 AND kind = 'bridge' AND status = 'pending' AND downstream_pipeline_id IS NULL`,
		id, downstreamPipelineID, status, failureReason)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpstreamBridge is the bridge that created a pipeline.
type UpstreamBridge struct {
	ID         int64  `db:"id"`
	PipelineID int64  `db:"pipeline_id"`
	Status     string `db:"status"`
	// Strategy is the bridge's trigger:strategy: "", "depend" or "mirror".
	Strategy string `db:"strategy"`
}

// UpstreamBridgeOf returns the bridge linked to pipeline as its downstream;
// ErrNotFound when the pipeline was not made by a bridge (a trigger token, a
// CI job token, a schedule...).
func (q *Queries) UpstreamBridgeOf(ctx context.Context, pipelineID int64) (UpstreamBridge, error) {
	return collectOne[UpstreamBridge](q.db.Query(ctx, `SELECT j.id, j.pipeline_id, j.status,
			COALESCE(j.spec -> 'trigger' ->> 'strategy', '') AS strategy
		FROM pipelines pl JOIN jobs j ON j.id = pl.upstream_job_id AND j.kind = 'bridge' AND j.downstream_pipeline_id = pl.id
		WHERE pl.id = $1`, pipelineID))
}

// InheritBridgeStatus gives a waiting (running) bridge the final status of
// its downstream pipeline. It reports false when the bridge was not running
// (canceled meanwhile, or already updated), in which case nothing changed.
func (q *Queries) InheritBridgeStatus(ctx context.Context, id int64, status string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE jobs SET status = $2, finished_at = now(), updated_at = now()
		WHERE id = $1 AND kind = 'bridge' AND status = 'running'`, id, status)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// Lineage is where a pipeline sits in its hierarchy of multi-project
// pipelines.
type Lineage struct {
	// Depth is 0 for a pipeline without upstream, its upstream's depth + 1
	// otherwise.
	Depth int `db:"depth"`
	// RootID is the pipeline at the top of the hierarchy (the pipeline
	// itself when it has no upstream).
	RootID int64 `db:"root_id"`
}

// PipelineLineage returns a pipeline's depth and hierarchy root.
func (q *Queries) PipelineLineage(ctx context.Context, pipelineID int64) (Lineage, error) {
	return collectOne[Lineage](q.db.Query(ctx, `SELECT depth, COALESCE(root_pipeline_id, id) AS root_id
		FROM pipelines WHERE id = $1`, pipelineID))
}

// SetDownstreamLineage places a new downstream pipeline one level below its
// upstream, in the upstream's hierarchy.
func (q *Queries) SetDownstreamLineage(ctx context.Context, pipelineID, upstreamPipelineID int64) error {
	_, err := q.db.Exec(ctx, `UPDATE pipelines c SET depth = u.depth + 1, root_pipeline_id = COALESCE(u.root_pipeline_id, u.id)
		FROM pipelines u WHERE c.id = $1 AND u.id = $2`, pipelineID, upstreamPipelineID)
	return mapErr(err)
}

// HierarchySize counts the pipelines of the hierarchy rooted at rootID,
// the root included.
func (q *Queries) HierarchySize(ctx context.Context, rootID int64) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT 1 + (SELECT count(*) FROM pipelines WHERE root_pipeline_id = $1)`, rootID).Scan(&n)
	return n, mapErr(err)
}

// PipelineAndAncestors returns a pipeline's id and those of its upstream
// pipelines, nearest first, at most limit of them: the pipelines a
// downstream's change may have moved.
func (q *Queries) PipelineAndAncestors(ctx context.Context, pipelineID int64, limit int) ([]int64, error) {
	return collectColumn[int64](q.db.Query(ctx, `WITH RECURSIVE up (id, upstream, n) AS (
			SELECT id, upstream_pipeline_id, 1 FROM pipelines WHERE id = $1
			UNION ALL
			SELECT p.id, p.upstream_pipeline_id, up.n + 1 FROM pipelines p JOIN up ON p.id = up.upstream WHERE up.n < $2)
		SELECT id FROM up ORDER BY n`, pipelineID, limit))
}
