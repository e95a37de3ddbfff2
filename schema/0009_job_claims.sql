-- A runner's claim of a job carries an id the runner chose, the same in
-- every retry of that claim, and the retry's number. A claim whose answer
-- was lost is retried with the same id and answered again (with a new job
-- token whose digest replaces the old one) instead of being refused; a
-- claim with any other id is refused as before. claim_attempt keeps an
-- older retry that arrives late from replacing the token of a newer one.
ALTER TABLE jobs ADD COLUMN claim_id text;
ALTER TABLE jobs ADD COLUMN claim_attempt int NOT NULL DEFAULT 0;
