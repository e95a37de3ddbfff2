-- Groups are namespaces too: GitLab's group entity shows a description and a
-- visibility, and a private group is hidden from non-members.
ALTER TABLE namespaces
    ADD COLUMN description text NOT NULL DEFAULT '',
    ADD COLUMN visibility  text NOT NULL DEFAULT 'private'
        CHECK (visibility IN ('private', 'internal', 'public'));

-- A personal access token may carry a description, which GitLab's entity
-- shows.
ALTER TABLE personal_access_tokens
    ADD COLUMN description text;

-- Members of a group are listed and looked up by user as well.
CREATE INDEX namespace_members_user_id ON namespace_members (user_id);

-- The inbound allowlist is also read from the allowed project's side.
CREATE INDEX job_token_allowlist_source ON job_token_allowlist (source_project_id);
