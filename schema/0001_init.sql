-- Users, their personal access tokens, and the namespaces projects live in.
CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    username    text        NOT NULL,
    name        text        NOT NULL,
    email       text        NOT NULL,
    state       text        NOT NULL DEFAULT 'active',
    is_admin    boolean     NOT NULL DEFAULT false,
    bot         boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Tokens are looked up by the SHA-256 digest of their text; the text itself
-- is never stored.
CREATE TABLE personal_access_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    digest       bytea       NOT NULL UNIQUE,
    scopes       text[]      NOT NULL,
    revoked      boolean     NOT NULL DEFAULT false,
    expires_at   date,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX personal_access_tokens_user_id ON personal_access_tokens (user_id);

-- A namespace is a user's personal namespace or a group.
CREATE TABLE namespaces (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('user', 'group')),
    name        text        NOT NULL,
    path        text        NOT NULL,
    owner_id    bigint      REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX namespaces_path_key ON namespaces (lower(path));

CREATE TABLE namespace_members (
    namespace_id bigint      NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level int         NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace_id, user_id)
);

CREATE TABLE projects (
    id                  bigserial PRIMARY KEY,
    namespace_id        bigint      NOT NULL REFERENCES namespaces (id),
    name                text        NOT NULL,
    path                text        NOT NULL,
    path_with_namespace text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    visibility          text        NOT NULL DEFAULT 'private',
    default_branch      text,
    ci_config_path      text        NOT NULL DEFAULT '.gitlab-ci.yml',
    creator_id          bigint      REFERENCES users (id) ON DELETE SET NULL,
    -- The last pipeline iid handed out; bumped inside the creating
    -- transaction so iids have no gaps.
    pipeline_iid        bigint      NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_activity_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX projects_path_key ON projects (lower(path_with_namespace));

CREATE TABLE project_members (
    project_id   bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level int         NOT NULL,
    expires_at   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_id ON project_members (user_id);

-- A minimal content-addressed repository: blobs by git blob id, commits
-- holding a tree (path -> blob id), and refs pointing at commits.
CREATE TABLE blobs (
    sha     text  PRIMARY KEY,
    content bytea NOT NULL
);

CREATE TABLE commits (
    project_id      bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    sha             text        NOT NULL,
    parent_ids      text[]      NOT NULL,
    tree            jsonb       NOT NULL,
    title           text        NOT NULL,
    message         text        NOT NULL,
    author_name     text        NOT NULL,
    author_email    text        NOT NULL,
    authored_date   timestamptz NOT NULL,
    committer_name  text        NOT NULL,
    committer_email text        NOT NULL,
    committed_date  timestamptz NOT NULL,
    PRIMARY KEY (project_id, sha)
);

CREATE TABLE refs (
    project_id  bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('branch', 'tag')),
    name        text        NOT NULL,
    commit_sha  text        NOT NULL,
    message     text        NOT NULL DEFAULT '',
    protected   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name, kind)
);

-- Pipeline trigger tokens: found by digest, kept encrypted (AES-GCM) so the
-- owner can read them again. Deleting a row is the irreversible revoke.
CREATE TABLE triggers (
    id           bigserial PRIMARY KEY,
    project_id   bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id     bigint      REFERENCES users (id) ON DELETE SET NULL,
    description  text        NOT NULL,
    digest       bytea       NOT NULL UNIQUE,
    token_enc    bytea       NOT NULL,
    short_token  text        NOT NULL,
    expires_at   timestamptz,
    last_used    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triggers_project_id ON triggers (project_id, id);

CREATE TABLE pipelines (
    id                   bigserial PRIMARY KEY,
    project_id           bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    iid                  bigint      NOT NULL,
    -- The trigger event that created the pipeline: a redelivered or repeated
    -- event finds its pipeline here instead of creating another.
    event_id             text        UNIQUE,
    sha                  text        NOT NULL,
    before_sha           text        NOT NULL DEFAULT '0000000000000000000000000000000000000000',
    ref                  text        NOT NULL,
    tag                  boolean     NOT NULL,
    status               text        NOT NULL,
    source               text        NOT NULL,
    yaml_errors          text,
    failure_reason       text,
    user_id              bigint      REFERENCES users (id) ON DELETE SET NULL,
    trigger_id           bigint,
    upstream_job_id      bigint,
    upstream_pipeline_id bigint,
    upstream_project_id  bigint,
    inputs               jsonb,
    -- TRIGGER_PAYLOAD: the trigger request's parameters without the token.
    trigger_payload      jsonb,
    coverage             text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    finished_at          timestamptz,
    committed_at         timestamptz,
    duration             int,
    queued_duration      int,
    UNIQUE (project_id, iid)
);
CREATE INDEX pipelines_project_id ON pipelines (project_id, id DESC);
CREATE INDEX pipelines_upstream ON pipelines (upstream_pipeline_id) WHERE upstream_pipeline_id IS NOT NULL;

CREATE TABLE pipeline_variables (
    pipeline_id   bigint NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    key           text   NOT NULL,
    value         text   NOT NULL,
    variable_type text   NOT NULL DEFAULT 'env_var',
    PRIMARY KEY (pipeline_id, key)
);

-- Jobs and bridges (kind = 'bridge' for trigger: jobs). spec holds what the
-- CI config said: scripts, needs, job variables, trigger, artifacts.
CREATE TABLE jobs (
    id                     bigserial PRIMARY KEY,
    pipeline_id            bigint      NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    project_id             bigint      NOT NULL,
    kind                   text        NOT NULL DEFAULT 'build',
    name                   text        NOT NULL,
    stage                  text        NOT NULL,
    stage_idx              int         NOT NULL,
    status                 text        NOT NULL,
    when_                  text        NOT NULL,
    allow_failure          boolean     NOT NULL,
    spec                   jsonb       NOT NULL,
    user_id                bigint,
    runner                 text,
    token_digest           bytea       UNIQUE,
    failure_reason         text,
    coverage               text,
    trace                  text        NOT NULL DEFAULT '',
    downstream_pipeline_id bigint,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    queued_at              timestamptz,
    started_at             timestamptz,
    finished_at            timestamptz
);
CREATE INDEX jobs_pipeline_id ON jobs (pipeline_id, stage_idx, id);

-- Trigger events the dispatcher rejected (token revoked before processing,
-- ref gone, no job to run): kept so a retry or a status lookup of the same
-- event gets the same answer.
CREATE TABLE trigger_rejections (
    event_id   text        PRIMARY KEY,
    project_id bigint      NOT NULL,
    status     int         NOT NULL,
    -- text, not jsonb: the body is replayed byte for byte.
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Inbound CI job token allowlist: jobs of source_project may use their
-- token against project.
CREATE TABLE job_token_allowlist (
    project_id        bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    source_project_id bigint      NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, source_project_id)
);
