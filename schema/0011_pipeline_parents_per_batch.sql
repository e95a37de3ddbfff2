-- A pipeline's parents (its project and user) and its children's parent
-- (jobs and variables name their pipeline) were foreign keys, checked by
-- Postgres at every inserted row: seven lookups, each locking its parent
-- row, for one pipeline of three jobs and two variables, about a third of
-- what Postgres spent on creating it. What the keys guarded is kept
-- without them, as GitLab keeps its CI tables' loose foreign keys:
--
-- * Jobs and variables are inserted by the transaction that inserts their
--   pipeline, or, for a retried job, by one that holds the pipeline's row
--   lock (store.LockPipeline); their parent exists by construction.
-- * store.CreatePipelines locks the projects and users of a whole batch
--   FOR KEY SHARE, once, in the transaction that inserts the batch, and
--   fails it if one is gone: what each row's check did, once a batch.
-- * Deletes cascade as before, by the triggers below, which run after
--   the parent's delete has waited for those locks. Each statement of a
--   trigger reads anew, so it finds the rows of the transactions it
--   waited for.
ALTER TABLE pipelines DROP CONSTRAINT pipelines_project_id_fkey;
ALTER TABLE pipelines DROP CONSTRAINT pipelines_user_id_fkey;
ALTER TABLE jobs DROP CONSTRAINT jobs_pipeline_id_fkey;
ALTER TABLE pipeline_variables DROP CONSTRAINT pipeline_variables_pipeline_id_fkey;

-- delete_referencing_rows deletes the rows that referenced the rows a
-- statement deleted: its arguments are pairs of a table and its column
-- holding the deleted rows' id.
CREATE FUNCTION delete_referencing_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        EXECUTE format('DELETE FROM %I WHERE %I IN (SELECT id FROM gone)', TG_ARGV[2 * i], TG_ARGV[2 * i + 1]);
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_delete_pipelines AFTER DELETE ON projects
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION delete_referencing_rows('pipelines', 'project_id');
CREATE TRIGGER pipelines_delete_children AFTER DELETE ON pipelines
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION delete_referencing_rows('jobs', 'pipeline_id', 'pipeline_variables', 'pipeline_id');

CREATE FUNCTION unset_users_pipelines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pipelines SET user_id = NULL WHERE user_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;
CREATE TRIGGER users_unset_pipelines AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION unset_users_pipelines();
