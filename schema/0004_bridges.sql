-- Multi-project pipelines. A downstream pipeline (created by a bridge or by a
-- job's CI job token) is one level deeper than its upstream, and belongs to
-- the hierarchy of its upstream's root, so that the depth and the size of a
-- hierarchy can be limited without walking it.
ALTER TABLE pipelines ADD COLUMN depth int NOT NULL DEFAULT 0;
ALTER TABLE pipelines ADD COLUMN root_pipeline_id bigint;
CREATE INDEX pipelines_root ON pipelines (root_pipeline_id) WHERE root_pipeline_id IS NOT NULL;

-- Fan-out looks for the pending, not yet linked bridges of a pipeline after
-- every change of it.
CREATE INDEX jobs_pending_bridges ON jobs (pipeline_id)
    WHERE kind = 'bridge' AND status = 'pending' AND downstream_pipeline_id IS NULL;
