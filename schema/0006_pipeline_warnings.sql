-- A successful pipeline with failed allow_failure jobs shows "passed with
-- warnings", as GitLab's detailed status does.
ALTER TABLE pipelines ADD COLUMN warnings boolean NOT NULL DEFAULT false;
