-- A pipeline's predefined CI/CD variables are made when its jobs run, from
-- the pipeline, its project, commit, ref, user and trigger, as GitLab does,
-- instead of being stored with every pipeline (about 1.2 KB of each row,
-- written to the WAL and parsed as jsonb on every insert).
-- predefined_variables stays for pipelines created before; new ones leave
-- it NULL. TRIGGER_PAYLOAD is the trigger_payload column, which becomes
-- json: the text the trigger sent is kept as it was, where jsonb would
-- reorder and respace it.
ALTER TABLE pipelines ALTER COLUMN trigger_payload TYPE json USING trigger_payload::json;
