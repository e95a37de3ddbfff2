-- Job artifacts: the archive a job's runner uploaded (artifacts:paths),
-- moved here from the ARTIFACTS object store bucket by the dispatcher in the
-- transaction that records the job's result. One archive per job, as GitLab
-- keeps one "archive" artifact per job.
CREATE TABLE job_artifacts (
    job_id     bigint      PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    file_type  text        NOT NULL DEFAULT 'archive',
    file_name  text        NOT NULL DEFAULT 'artifacts.zip',
    size       bigint      NOT NULL,
    content    bytea       NOT NULL,
    -- NULL: kept forever (expire_in: never).
    expire_at  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- "The latest successful pipeline for the ref" and its job by name.
CREATE INDEX pipelines_project_ref_success ON pipelines (project_id, ref, id DESC) WHERE status = 'success';
CREATE INDEX jobs_pipeline_name ON jobs (pipeline_id, name);
