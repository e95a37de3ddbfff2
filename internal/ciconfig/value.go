package ciconfig

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxScriptNesting is how deep GitLab lets script arrays nest; nesting comes
// from `!reference` tags and YAML anchors that insert whole lists.
const maxScriptNesting = 10

// scalarString stringifies a YAML scalar the way Ruby's to_s does for the
// types a YAML document can hold, so `VAR: 1` and `VAR: true` give "1" and
// "true" as in GitLab. Mappings and sequences are not scalars.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case float64:
		return rubyFloat(t), true
	case nil:
		return "", true
	default:
		return "", false
	}
}

// rubyFloat formats f like Ruby's Float#to_s for the common cases: integral
// values keep a ".0" suffix.
func rubyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// stringValue accepts only a YAML string.
func stringValue(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// stringOrList accepts a string or an array of strings.
func stringOrList(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []any:
		return stringList(t)
	default:
		return nil, false
	}
}

// stringList accepts an array of strings.
func stringList(v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// scriptLines accepts a string or an array of strings nested up to
// maxScriptNesting levels and flattens it into the lines the runner executes.
func scriptLines(v any) ([]string, bool) {
	if s, ok := v.(string); ok {
		return []string{s}, true
	}
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	if !appendScript(&out, items, 1) {
		return nil, false
	}
	return out, true
}

func appendScript(out *[]string, items []any, level int) bool {
	if level > maxScriptNesting {
		return false
	}
	for _, item := range items {
		switch t := item.(type) {
		case string:
			*out = append(*out, t)
		case []any:
			if !appendScript(out, t, level+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// unknownKeys returns the keys of m that are not allowed, sorted, in the
// comma-separated form GitLab prints.
func unknownKeys(m *mapping, allowed func(string) bool) string {
	var bad []string
	for _, k := range m.keys {
		if !allowed(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	slices.Sort(bad)
	return strings.Join(bad, ", ")
}
