// Package worker is the dispatcher's work: it consumes trigger events from
// the TRIGGERS stream and turns each into exactly one pipeline.
//
// For every event, inside one Postgres transaction, it re-checks the token
// against the database, resolves the ref to its commit, reads and evaluates
// the CI config at that commit, and inserts the pipeline with its variables
// and jobs (or records why no pipeline was made). Only after the commit does
// it publish the pipeline's first jobs, reply to the waiting ingress and ack
// the event. A redelivered event finds its pipeline by event id and replays
// those follow-ups; publishing them again is harmless because their message
// ids are derived from job ids.
package worker
