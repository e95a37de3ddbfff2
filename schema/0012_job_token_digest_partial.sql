-- A job's token digest is set when a runner claims the job and is NULL
-- until then, yet the unique index on it took an entry for every job at
-- its insert: three of the twenty index entries Postgres writes for a
-- pipeline of three jobs, all on the index's last page, where every
-- inserting transaction meets. Only set digests are looked up
-- (store.JobByTokenDigest, WHERE token_digest = $1, which implies NOT
-- NULL) and only they need to be unique.
CREATE UNIQUE INDEX jobs_token_digest_set ON jobs (token_digest) WHERE token_digest IS NOT NULL;
ALTER TABLE jobs DROP CONSTRAINT jobs_token_digest_key;
ALTER INDEX jobs_token_digest_set RENAME TO jobs_token_digest_key;
