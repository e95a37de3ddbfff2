-- What running jobs needs: the pipeline-level predefined variables computed
-- once at creation, and per job its exit code and whether a retry replaced it.
ALTER TABLE pipelines ADD COLUMN predefined_variables jsonb;
ALTER TABLE jobs ADD COLUMN retried boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN exit_code int;
CREATE INDEX jobs_running ON jobs (updated_at) WHERE status = 'running';
