package ciconfig

import (
	"slices"
	"strings"
)

// need is one `needs:` entry that refers to a job of the same pipeline.
type need struct {
	job      string
	optional bool
}

func isNeedKey(k string) bool {
	switch k {
	case "job", "optional", "artifacts", "project", "ref", "pipeline", "parallel":
		return true
	}
	return false
}

// parseNeeds reads a `needs:` list. Entries that point at another pipeline
// (`project:` or `pipeline:`, used to fetch artifacts) create no ordering
// within this pipeline and are skipped. `needs: []` yields an empty, non-nil
// slice, which means "start immediately" rather than "wait for earlier stages".
func parseNeeds(path string, v any) ([]need, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, configErrorf("%s:needs config should be an array of strings or hashes", path)
	}
	out := make([]need, 0, len(items))
	for _, item := range items {
		switch t := item.(type) {
		case string:
			out = append(out, need{job: t})
		case *mapping:
			if bad := unknownKeys(t, isNeedKey); bad != "" {
				return nil, configErrorf("%s:needs:need config contains unknown keys: %s", path, bad)
			}
			if t.has("project") || t.has("pipeline") {
				continue
			}
			name, ok := stringValue(t.values["job"])
			if !ok || name == "" {
				return nil, configErrorf("%s:needs:need job should be a string", path)
			}
			n := need{job: name}
			if raw, ok := t.get("optional"); ok {
				b, ok := raw.(bool)
				if !ok {
					return nil, configErrorf("%s:needs:need optional should be a boolean value", path)
				}
				n.optional = b
			}
			if raw, ok := t.get("artifacts"); ok {
				if _, ok := raw.(bool); !ok {
					return nil, configErrorf("%s:needs:need artifacts should be a boolean value", path)
				}
			}
			out = append(out, n)
		default:
			return nil, configErrorf("%s:needs config should be an array of strings or hashes", path)
		}
	}
	return out, nil
}

// duplicateNeeds returns GitLab's error for a job that needs the same job
// twice, or nil.
func duplicateNeeds(name string, needs []need) error {
	seen := make(map[string]bool, len(needs))
	var dups []string
	for _, n := range needs {
		if seen[n.job] && !slices.Contains(dups, n.job) {
			dups = append(dups, n.job)
		}
		seen[n.job] = true
	}
	if len(dups) == 0 {
		return nil
	}
	return configErrorf("%s has the following needs duplicated: %s.", name, strings.Join(dups, ", "))
}
