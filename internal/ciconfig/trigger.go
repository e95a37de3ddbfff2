package ciconfig

// triggerSpec is a parsed `trigger:` keyword. project and branch may contain
// variables, which are expanded per pipeline in Evaluate.
type triggerSpec struct {
	project         string
	branch          string
	strategy        string
	forwardYAML     bool
	forwardPipeline bool
	child           bool
}

func isTriggerKey(k string) bool {
	switch k {
	case "project", "branch", "strategy", "forward", "include", "inputs":
		return true
	}
	return false
}

func isForwardKey(k string) bool {
	return k == "yaml_variables" || k == "pipeline_variables"
}

// parseTrigger reads `trigger: group/project` or the hash form. A child
// pipeline (`trigger: include:`) is accepted and reported with an empty
// project, since only multi-project triggers are required here.
func parseTrigger(path string, v any) (*triggerSpec, error) {
	t := &triggerSpec{forwardYAML: true}
	switch raw := v.(type) {
	case string:
		if raw == "" {
			return nil, configErrorf("%s:trigger config can't be blank", path)
		}
		t.project = raw
		return t, nil
	case *mapping:
		path += ":trigger"
		if bad := unknownKeys(raw, isTriggerKey); bad != "" {
			return nil, configErrorf("%s config contains unknown keys: %s", path, bad)
		}
		hasProject, hasInclude := raw.has("project"), raw.has("include")
		switch {
		case hasProject && hasInclude:
			return nil, configErrorf("%s config may not specify both project and include", path)
		case !hasProject && !hasInclude:
			return nil, configErrorf("%s config should contain either project or include", path)
		case hasInclude:
			if raw.has("branch") {
				return nil, configErrorf("%s config contains unknown keys: branch", path)
			}
			t.child = true
		default:
			p, ok := stringValue(raw.values["project"])
			if !ok || p == "" {
				return nil, configErrorf("%s project should be a string", path)
			}
			t.project = p
			if b, ok := raw.get("branch"); ok {
				s, ok := scalarString(b)
				if !ok {
					return nil, configErrorf("%s branch should be a string", path)
				}
				t.branch = s
			}
		}
		if s, ok := raw.get("strategy"); ok {
			str, _ := stringValue(s)
			if str != "depend" && str != "mirror" {
				return nil, configErrorf("%s strategy should be depend or mirror", path)
			}
			t.strategy = str
		}
		if f, ok := raw.get("forward"); ok {
			fm, ok := f.(*mapping)
			if !ok {
				return nil, configErrorf("%s:forward config should be a hash", path)
			}
			if bad := unknownKeys(fm, isForwardKey); bad != "" {
				return nil, configErrorf("%s:forward config contains unknown keys: %s", path, bad)
			}
			if y, ok := fm.get("yaml_variables"); ok {
				b, ok := y.(bool)
				if !ok {
					return nil, configErrorf("%s:forward yaml_variables should be a boolean value", path)
				}
				t.forwardYAML = b
			}
			if p, ok := fm.get("pipeline_variables"); ok {
				b, ok := p.(bool)
				if !ok {
					return nil, configErrorf("%s:forward pipeline_variables should be a boolean value", path)
				}
				t.forwardPipeline = b
			}
		}
		return t, nil
	default:
		return nil, configErrorf("%s:trigger config should be a string or a hash", path)
	}
}
