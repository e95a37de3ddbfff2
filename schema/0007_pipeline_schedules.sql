-- Pipeline schedules: cron-driven pipelines owned by a user.
CREATE TABLE pipeline_schedules (
    id            bigserial PRIMARY KEY,
    project_id    bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id      bigint      REFERENCES users (id) ON DELETE SET NULL,
    description   text        NOT NULL,
    ref           text        NOT NULL,
    cron          text        NOT NULL,
    cron_timezone text        NOT NULL DEFAULT 'UTC',
    active        boolean     NOT NULL DEFAULT true,
    next_run_at   timestamptz NOT NULL,
    -- Why the last due run created nothing (inactive owner, ref gone...),
    -- cleared when a run succeeds.
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pipeline_schedules_project ON pipeline_schedules (project_id, id);
-- The scheduler claims due rows in bulk by this index.
CREATE INDEX pipeline_schedules_due ON pipeline_schedules (next_run_at) WHERE active;

CREATE TABLE pipeline_schedule_variables (
    schedule_id   bigint NOT NULL REFERENCES pipeline_schedules (id) ON DELETE CASCADE,
    key           text   NOT NULL,
    value         text   NOT NULL,
    variable_type text   NOT NULL DEFAULT 'env_var',
    PRIMARY KEY (schedule_id, key)
);

ALTER TABLE pipelines ADD COLUMN schedule_id bigint;
CREATE INDEX pipelines_schedule ON pipelines (schedule_id, id DESC) WHERE schedule_id IS NOT NULL;
