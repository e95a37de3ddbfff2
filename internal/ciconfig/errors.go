package ciconfig

import (
	"errors"
	"fmt"
)

// ConfigError reports an invalid CI configuration. Msg is GitLab's wording for
// the same problem, so API handlers can return it verbatim in `yaml_errors`
// and in 400/422 bodies without translating it.
type ConfigError struct {
	Msg string
}

// Error returns the GitLab-compatible message.
func (e *ConfigError) Error() string { return e.Msg }

// configErrorf builds a *ConfigError; it exists so every validation failure in
// the package produces the same error type that callers match with errors.As.
func configErrorf(format string, args ...any) *ConfigError {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// ErrWorkflowPrevented is returned by Evaluate when workflow:rules do not
// allow the pipeline. GitLab refuses to create such a pipeline rather than
// creating an empty one, and callers need to tell this case apart from a
// broken config. The text is GitLab's, hence the capital and the full stop.
var ErrWorkflowPrevented = errors.New("Pipeline filtered out by workflow rules.")

// ErrNoJobs is returned by Evaluate when no job is left after rules and
// only/except, or when only .pre/.post jobs are left, which GitLab also refuses
// to run. The text is GitLab's.
var ErrNoJobs = errors.New("No stages / jobs for this pipeline.")
