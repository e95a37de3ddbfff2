package ciconfig

import (
	"regexp"
	"strings"
)

// refPolicy is a compiled `only:` or `except:`. Every key that is present must
// be satisfied (GitLab joins the keys with AND, for `only` and for `except`);
// entries inside one key are joined with OR.
type refPolicy struct {
	refs       []refMatcher  // nil: refs not constrained
	variables  []*Expression // nil: variables not constrained
	changes    bool          // `changes:` was given (always satisfied here)
	kubernetes bool          // `kubernetes: active` was given
}

// empty reports whether the policy constrains nothing (`except: []`), in which
// case it must not exclude the job.
func (p *refPolicy) empty() bool {
	return p.refs == nil && p.variables == nil && !p.changes && !p.kubernetes
}

// defaultOnly is GitLab's implicit `only: [branches, tags]` for jobs with
// neither rules nor only/except. Every ref is a branch or a tag, so it always
// matches; it is kept explicit to document the behaviour.
func defaultOnly() *refPolicy {
	return &refPolicy{refs: []refMatcher{{kind: refBranches}, {kind: refTags}}}
}

// matches reports whether the policy is satisfied. `changes:` is satisfied
// because GitLab also evaluates it to true when there is no push to compare
// with (trigger, API, schedule and web pipelines). No Kubernetes integration
// exists here, so `kubernetes: active` is never satisfied.
func (p *refPolicy) matches(ctx *Context, vars varLookup) bool {
	if p.kubernetes {
		return false
	}
	if p.refs != nil {
		ok := false
		for i := range p.refs {
			if p.refs[i].matches(ctx) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if p.variables != nil {
		ok := false
		for _, e := range p.variables {
			if e.eval(vars) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

type refKind uint8

const (
	refBranches refKind = iota
	refTags
	refSource
	refLiteral
	refRegexp
)

// refMatcher is one entry of only/except refs.
type refMatcher struct {
	kind    refKind
	source  string // pipeline source for refSource
	literal string
	re      *regexp.Regexp
	project string // from "ref@group/project"; "" means any project
}

// sourceKeyword maps only/except keywords to the pipeline source they select.
func sourceKeyword(k string) (string, bool) {
	switch k {
	case "api":
		return "api", true
	case "external":
		return "external", true
	case "pipelines":
		return "pipeline", true
	case "pushes":
		return "push", true
	case "schedules":
		return "schedule", true
	case "triggers":
		return "trigger", true
	case "web":
		return "web", true
	case "merge_requests":
		return "merge_request_event", true
	case "external_pull_requests":
		return "external_pull_request_event", true
	case "chat":
		return "chat", true
	}
	return "", false
}

func (m *refMatcher) matches(ctx *Context) bool {
	if m.project != "" {
		// The project qualifier can only be checked when the caller passed
		// CI_PROJECT_PATH; without it the qualifier is ignored.
		path, ok := ctx.Variables["CI_PROJECT_PATH"]
		if !ok {
			path, ok = ctx.Predefined["CI_PROJECT_PATH"]
		}
		if ok && path != m.project {
			return false
		}
	}
	switch m.kind {
	case refBranches:
		return !ctx.Tag
	case refTags:
		return ctx.Tag
	case refSource:
		return ctx.Source == m.source
	case refLiteral:
		return ctx.Ref == m.literal
	default:
		return m.re.MatchString(ctx.Ref)
	}
}

func parseRefMatcher(entry string) (refMatcher, error) {
	var m refMatcher
	pattern := entry
	if at := strings.IndexByte(entry, '@'); at >= 0 && !isPatternLiteral(entry) {
		pattern, m.project = entry[:at], entry[at+1:]
	}
	switch {
	case pattern == "branches":
		m.kind = refBranches
	case pattern == "tags":
		m.kind = refTags
	case isPatternLiteral(pattern):
		re, err := compilePattern(pattern)
		if err != nil {
			return m, err
		}
		m.kind, m.re = refRegexp, re
	default:
		if src, ok := sourceKeyword(pattern); ok {
			m.kind, m.source = refSource, src
		} else {
			m.kind, m.literal = refLiteral, pattern
		}
	}
	return m, nil
}

func isPolicyKey(k string) bool {
	switch k {
	case "refs", "variables", "changes", "kubernetes":
		return true
	}
	return false
}

// parsePolicy compiles `only:` / `except:`; path is e.g. "jobs:build:only".
// An empty list constrains nothing.
func parsePolicy(path string, v any) (*refPolicy, error) {
	p := &refPolicy{}
	switch t := v.(type) {
	case string, []any:
		refs, ok := stringOrList(t)
		if !ok {
			return nil, configErrorf("%s config should be an array of strings or regular expressions, or a hash", path)
		}
		if err := p.setRefs(path, refs); err != nil {
			return nil, err
		}
	case *mapping:
		if bad := unknownKeys(t, isPolicyKey); bad != "" {
			return nil, configErrorf("%s config contains unknown keys: %s", path, bad)
		}
		if raw, ok := t.get("refs"); ok {
			refs, ok := stringOrList(raw)
			if !ok {
				return nil, configErrorf("%s refs should be an array of strings or regular expressions", path)
			}
			if err := p.setRefs(path, refs); err != nil {
				return nil, err
			}
		}
		if raw, ok := t.get("variables"); ok {
			exprs, ok := stringOrList(raw)
			if !ok {
				return nil, configErrorf("%s variables should be an array of strings", path)
			}
			for _, s := range exprs {
				e, err := ParseExpression(s)
				if err != nil {
					return nil, configErrorf("%s variables invalid expression syntax", path)
				}
				p.variables = append(p.variables, e)
			}
		}
		p.changes = t.has("changes")
		if raw, ok := t.get("kubernetes"); ok {
			if s, _ := stringValue(raw); s != "active" {
				return nil, configErrorf("%s kubernetes should be active", path)
			}
			p.kubernetes = true
		}
	case nil:
	default:
		return nil, configErrorf("%s config should be an array of strings or regular expressions, or a hash", path)
	}
	return p, nil
}

func (p *refPolicy) setRefs(path string, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	p.refs = make([]refMatcher, 0, len(refs))
	for _, r := range refs {
		m, err := parseRefMatcher(r)
		if err != nil {
			return configErrorf("%s config should be an array of strings or regular expressions (%s: %v)", path, r, err)
		}
		p.refs = append(p.refs, m)
	}
	return nil
}
