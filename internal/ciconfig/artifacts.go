package ciconfig

import "slices"

func isArtifactsKey(k string) bool {
	switch k {
	case "paths", "exclude", "expire_in", "expose_as", "name", "untracked", "when", "reports", "public", "access":
		return true
	}
	return false
}

// parseArtifacts reads `artifacts:`; path is e.g. "jobs:build" or "default".
// Keys the plan does not carry (reports, exclude, ...) are validated for
// presence only.
func parseArtifacts(path string, v any) (*Artifacts, error) {
	path += ":artifacts"
	m, ok := v.(*mapping)
	if !ok {
		return nil, configErrorf("%s config should be a hash", path)
	}
	if bad := unknownKeys(m, isArtifactsKey); bad != "" {
		return nil, configErrorf("%s config contains unknown keys: %s", path, bad)
	}
	a := &Artifacts{When: "on_success"}
	if raw, ok := m.get("paths"); ok {
		paths, ok := stringList(raw)
		if !ok {
			return nil, configErrorf("%s paths should be an array of strings", path)
		}
		a.Paths = paths
	}
	if raw, ok := m.get("when"); ok {
		s, _ := stringValue(raw)
		if s != "on_success" && s != "on_failure" && s != "always" {
			return nil, configErrorf("%s when should be on_success, on_failure or always", path)
		}
		a.When = s
	}
	if raw, ok := m.get("expire_in"); ok {
		s, ok := scalarString(raw)
		if !ok {
			return nil, configErrorf("%s expire in should be a duration", path)
		}
		a.ExpireIn = s
	}
	if raw, ok := m.get("name"); ok {
		s, ok := scalarString(raw)
		if !ok {
			return nil, configErrorf("%s name should be a string", path)
		}
		a.Name = s
	}
	return a, nil
}

// clone returns a copy the caller may modify.
func (a *Artifacts) clone() *Artifacts {
	if a == nil {
		return nil
	}
	c := *a
	c.Paths = slices.Clone(a.Paths)
	return &c
}
