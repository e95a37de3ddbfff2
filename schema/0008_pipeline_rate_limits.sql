-- Pipeline creation rate limits count a project's, and a trigger token's,
-- pipelines of the last minute.
CREATE INDEX pipelines_project_created ON pipelines (project_id, created_at);
CREATE INDEX pipelines_trigger_created ON pipelines (trigger_id, created_at) WHERE trigger_id IS NOT NULL;
