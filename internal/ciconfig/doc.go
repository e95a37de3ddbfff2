// Package ciconfig parses a project's .gitlab-ci.yml and decides which jobs a
// pipeline gets, the way GitLab does for the subset of keywords this service
// supports.
//
// The package is split in two phases so that the expensive work happens once:
//
//   - [Parse] reads the YAML (anchors, `<<` merge keys and `!reference` tags
//     included), resolves `extends:` and `default:`, validates every job and
//     compiles every `rules:if` / `only:variables` expression and every
//     `/regex/` ahead of time. Invalid configurations return a [*ConfigError]
//     whose message is GitLab's text, so it can be stored as the pipeline's
//     `yaml_errors` unchanged.
//   - [Config.Evaluate] runs for every pipeline creation (thousands a second):
//     it applies `workflow:rules`, then each job's `rules` or `only`/`except`,
//     and returns a [Plan]. It does no parsing and no reflection, and a
//     [Config] is safe for concurrent use by many goroutines.
//
// # Variables seen by conditions
//
// GitLab evaluates `rules:if` and `only:variables` against the pipeline-level
// variables (predefined variables, trigger/pipeline variables, global
// `variables:` and the matching `workflow:rules:variables`) and the job's own
// `variables:` (see "Where variables can be used" in GitLab's docs); variables
// set by `rules:variables` are not visible to the rule that sets them. The
// caller passes predefined and trigger variables already merged in
// [Context.Variables]; they take precedence over YAML-defined variables
// because trigger variables override every variable of the same name. When the
// caller omits CI_PIPELINE_SOURCE, CI_COMMIT_REF_NAME, CI_COMMIT_BRANCH or
// CI_COMMIT_TAG, they are derived from [Context] as a fallback.
//
// Expression values are compared literally: a variable whose value contains
// `$OTHER` is not expanded first, as in GitLab.
//
// only/except keywords (triggers, pipelines, schedules, api, pushes, web, ...)
// match Context.Source and Context.Tag, while rules test CI_PIPELINE_SOURCE
// and friends through expressions, as in GitLab.
//
// # Checks made per pipeline
//
// A job that needs a job absent from the pipeline (left out by rules or
// only/except, or never defined) or a job of a later stage makes Evaluate
// return a *ConfigError, unless the need is `optional: true` and the job is
// merely absent, in which case the need is dropped. Duplicate needs, circular
// needs and `dependencies:` on unknown or later jobs are rejected by Parse.
//
// # What cannot be evaluated here
//
// The service has no repository checkout and no diff, so `rules:changes`,
// `rules:exists` and `only/except:changes` are treated as satisfied. No
// Kubernetes integration exists, so `only/except:kubernetes` is never
// satisfied. `include:` (top level) and `spec:inputs` are rejected with a
// clear error; `trigger:include` (child pipelines) is accepted and reported as
// a bridge with Trigger.Child set and no project. `parallel:` is accepted but
// does not fan a job out, and `run:` is an unknown key.
//
// Script arrays may nest (from anchors or `!reference`); they are flattened
// up to 10 levels, GitLab's limit.
package ciconfig
