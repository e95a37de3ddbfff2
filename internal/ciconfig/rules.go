package ciconfig

// rule is one compiled entry of a `rules:` list (job or workflow).
type rule struct {
	cond         *Expression // nil when the rule has no `if:`
	when         string      // "" when not set
	allowFailure *bool
	variables    map[string]string
	needs        []need // replaces the job's needs when needsSet
	needsSet     bool
	startIn      string
}

// matches reports whether the rule applies. `changes:` and `exists:` need a
// diff and a checkout this service does not have, so they count as satisfied;
// a rule with neither `if:` nor those clauses always matches, as in GitLab.
func (r *rule) matches(vars varLookup) bool {
	return r.cond == nil || r.cond.eval(vars)
}

// firstMatch returns the first rule that applies, or nil: GitLab stops at the
// first match and excludes the job (or pipeline) when nothing matches.
func firstMatch(rules []rule, vars varLookup) *rule {
	for i := range rules {
		if rules[i].matches(vars) {
			return &rules[i]
		}
	}
	return nil
}

func isJobRuleKey(k string) bool {
	switch k {
	case "if", "changes", "exists", "when", "start_in", "allow_failure", "variables", "needs", "interruptible":
		return true
	}
	return false
}

func isWorkflowRuleKey(k string) bool {
	switch k {
	case "if", "changes", "exists", "when", "variables", "auto_cancel":
		return true
	}
	return false
}

func isJobRuleWhen(w string) bool {
	switch w {
	case "on_success", "on_failure", "always", "never", "manual", "delayed":
		return true
	}
	return false
}

func isWorkflowRuleWhen(w string) bool {
	return w == "always" || w == "never"
}

// parseRules compiles a `rules:` list. path is "jobs:<name>" or "workflow".
func parseRules(path string, v any, workflow bool) ([]rule, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, configErrorf("%s:rules config should be an array of hashes", path)
	}
	rulePath := path + ":rules:rule"
	allowedKey, allowedWhen := isJobRuleKey, isJobRuleWhen
	if workflow {
		allowedKey, allowedWhen = isWorkflowRuleKey, isWorkflowRuleWhen
	}
	out := make([]rule, 0, len(items))
	for _, item := range items {
		m, ok := item.(*mapping)
		if !ok {
			return nil, configErrorf("%s config should be a hash", rulePath)
		}
		if bad := unknownKeys(m, allowedKey); bad != "" {
			return nil, configErrorf("%s config contains unknown keys: %s", rulePath, bad)
		}
		var r rule
		if raw, ok := m.get("if"); ok {
			s, ok := stringValue(raw)
			if !ok {
				return nil, configErrorf("%s if should be a string", rulePath)
			}
			expr, err := ParseExpression(s)
			if err != nil {
				return nil, configErrorf("%s if invalid expression syntax", rulePath)
			}
			r.cond = expr
		}
		if raw, ok := m.get("when"); ok {
			s, _ := stringValue(raw)
			if !allowedWhen(s) {
				return nil, configErrorf("%s when unknown value: %v", rulePath, raw)
			}
			r.when = s
		}
		if raw, ok := m.get("allow_failure"); ok {
			b, ok := raw.(bool)
			if !ok {
				return nil, configErrorf("%s allow_failure should be a boolean value", rulePath)
			}
			r.allowFailure = &b
		}
		if raw, ok := m.get("start_in"); ok {
			s, ok := scalarString(raw)
			if !ok || s == "" {
				return nil, configErrorf("%s start_in should be a duration", rulePath)
			}
			r.startIn = s
		}
		if r.when == "delayed" && r.startIn == "" {
			return nil, configErrorf("%s start_in should be specified for delayed job", rulePath)
		}
		if r.startIn != "" && r.when != "delayed" {
			return nil, configErrorf("%s start_in may only be used with when: delayed", rulePath)
		}
		if raw, ok := m.get("variables"); ok {
			vars, err := parseVariables(rulePath+":variables", raw)
			if err != nil {
				return nil, err
			}
			r.variables = vars
		}
		if raw, ok := m.get("needs"); ok {
			needs, err := parseNeeds(rulePath, raw)
			if err != nil {
				return nil, err
			}
			r.needs, r.needsSet = needs, true
		}
		out = append(out, r)
	}
	return out, nil
}
