// Package pipestate holds GitLab's pipeline processing rules as pure
// functions: which created jobs may start, what status a pipeline shows, what
// canceling and retrying a pipeline change, and how long a pipeline ran.
//
// The package does no I/O and keeps no state. The dispatcher loads a
// pipeline's jobs, calls [Advance], [Cancel] or [Retry], writes the returned
// transitions back in one transaction and stores [Status] as the pipeline's
// status. Because every function is a pure function of its input, the
// dispatcher may call them again after a redelivery and get the same answer,
// which keeps its handlers idempotent.
//
// # Where the rules come from
//
// The rules follow GitLab's source rather than its prose documentation,
// because the two disagree in corner cases and clients compare against what
// gitlab.com does:
//
//   - [Status] is Gitlab::Ci::Status::Composite: each job is reduced to a
//     symbol (an allow_failure job that failed or was canceled counts as
//     "success with warnings", an allow_failure manual job is "ignored"), and
//     the set of symbols is matched against an ordered list of rules.
//   - [Advance] is Ci::PipelineProcessing::AtomicProcessingService together
//     with Ci::ProcessBuildService: stages are visited in order, the created
//     jobs of a stage in dependency order, and a job moves only when the
//     composite status of its prerequisites is complete (success, failed,
//     canceled or skipped).
//   - [Cancel] is Ci::CancelPipelineService: only CANCELABLE_STATUSES jobs are
//     canceled.
//   - [Retry] is Ci::RetryPipelineService: failed and canceled jobs are
//     cloned and every skipped job is reset to created.
//
// Jobs with Retried set (older attempts replaced by a retry) are invisible to
// every function, as GitLab only ever looks at a pipeline's latest jobs.
//
// # Differences from a naive reading of the rules
//
// A few of GitLab's rules are surprising; they are kept on purpose:
//
//   - A manual job with allow_failure (the default for `when: manual`) does not
//     block later stages and does not make the pipeline "manual": a pipeline
//     whose other jobs all passed is "success". Only a manual job without
//     allow_failure blocks and makes the pipeline "manual".
//   - A scheduled (`when: delayed`) job blocks later stages until it has run,
//     whatever its allow_failure.
//   - A job that uses `needs` runs `on_success` only when every job it needs
//     succeeded: if one of them was skipped, is an allow_failure manual job,
//     failed or was canceled, the job is skipped.
//   - `when: always` jobs run after success, failure or skipped jobs, but not
//     after canceled ones: a canceled prerequisite skips them.
//   - Canceling a pipeline leaves manual jobs as they are.
//   - A pipeline without jobs is "success", as the atomic processing service
//     computes it (GitLab refuses to create such pipelines in the first
//     place).
package pipestate
