package ciconfig

import (
	"strings"
)

// parseVariables reads a `variables:` block. path is the GitLab config path
// used in messages ("variables", "jobs:build:variables", ...). Values may be
// strings, numbers or booleans (stringified as Ruby does) or a hash with
// `value` and the UI-only keys `description`, `expand` and `options`.
func parseVariables(path string, v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(*mapping)
	if !ok {
		return nil, configErrorf("%s config should be a hash of key value pairs, value can be a hash", path)
	}
	out := make(map[string]string, len(m.keys))
	for _, key := range m.keys {
		if !validVariableName(key) {
			return nil, configErrorf("%s config uses invalid variable name: %q (allowed characters are A-Z, a-z, 0-9 and _)", path, key)
		}
		raw := m.values[key]
		if vm, ok := raw.(*mapping); ok {
			if bad := unknownKeys(vm, isVariableHashKey); bad != "" {
				return nil, configErrorf("%s:%s config contains unknown keys: %s", path, key, bad)
			}
			raw = vm.values["value"]
		}
		s, ok := scalarString(raw)
		if !ok {
			return nil, configErrorf("%s config should be a hash of key value pairs, value can be a hash", path)
		}
		out[key] = s
	}
	return out, nil
}

func isVariableHashKey(k string) bool {
	switch k {
	case "value", "description", "expand", "options":
		return true
	}
	return false
}

// validVariableName reports whether name matches [A-Za-z0-9_]+, the names the
// trigger API accepts too.
func validVariableName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return false
		}
	}
	return true
}

// inheritance is a job's `inherit:variables` setting; nil means "inherit all
// global variables", GitLab's default.
type inheritance struct {
	none bool
	only map[string]bool
}

func (in *inheritance) allows(name string) bool {
	if in == nil {
		return true
	}
	if in.none {
		return false
	}
	return in.only[name]
}

// scope resolves a variable through the layers GitLab merges, highest
// precedence first, without building a merged map for every job: the
// caller's variables (predefined + trigger, which override everything), the
// matching rule's variables, the job's variables, the workflow rule's
// variables, the global variables, and finally values derived from Context.
type scope struct {
	ctx      *Context
	rule     map[string]string
	job      map[string]string
	workflow map[string]string
	global   map[string]string
	inherit  *inheritance
}

func (s *scope) lookup(name string) (string, bool) {
	if v, ok := s.ctx.Variables[name]; ok {
		return v, true
	}
	if v, ok := s.rule[name]; ok {
		return v, true
	}
	if v, ok := s.job[name]; ok {
		return v, true
	}
	if s.inherit.allows(name) {
		if v, ok := s.workflow[name]; ok {
			return v, true
		}
		if v, ok := s.global[name]; ok {
			return v, true
		}
	}
	if v, ok := s.ctx.Predefined[name]; ok {
		return v, true
	}
	return contextFallback(s.ctx, name)
}

// contextFallback derives the predefined variables rules most often test from
// Context, for callers that did not put them in Context.Variables.
func contextFallback(c *Context, name string) (string, bool) {
	var ok bool
	switch name {
	case "CI_PIPELINE_SOURCE":
		return c.Source, c.Source != ""
	case "CI_COMMIT_REF_NAME":
		ok = true
	case "CI_COMMIT_BRANCH":
		ok = !c.Tag
	case "CI_COMMIT_TAG":
		ok = c.Tag
	}
	if !ok || c.Ref == "" {
		return "", false
	}
	return c.Ref, true
}

// expandVariables replaces $NAME and ${NAME} in s. Unknown variables expand to
// the empty string, as GitLab's ExpandVariables does for trigger:project and
// trigger:branch.
func expandVariables(s string, vars varLookup) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			name := ""
			if end >= 0 {
				name = s[i+2 : i+2+end]
			}
			if end < 0 || !validVariableName(name) {
				b.WriteByte(s[i])
				continue
			}
			v, _ := vars.lookup(name)
			b.WriteString(v)
			i += end + 2
			continue
		}
		j := i + 1
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		if j == i+1 {
			b.WriteByte(s[i])
			continue
		}
		v, _ := vars.lookup(s[i+1 : j])
		b.WriteString(v)
		i = j - 1
	}
	return b.String()
}
