package ciconfig

import (
	"slices"
	"strings"
)

// maxJobNameLength is GitLab's limit on job names.
const maxJobNameLength = 255

// job is a validated, compiled job definition.
type job struct {
	name         string
	stage        string
	stageIndex   int
	when         string // job-level `when:`; "" when not set
	allowFailure *bool  // nil when not set
	exitCodes    []int
	needs        []need // nil: no `needs:`
	beforeScript []string
	script       []string
	afterScript  []string
	variables    map[string]string
	inherit      *inheritance
	inheritList  []string // Job.InheritVariables
	rules        []rule
	hasRules     bool
	only         *refPolicy
	except       *refPolicy
	trigger      *triggerSpec
	artifacts    *Artifacts
	startIn      string
	dependencies []string
	// rulesHaveNeeds reports whether any rule sets `needs:`.
	rulesHaveNeeds bool
}

// isJobKey lists the keywords of a job that runs a script.
func isJobKey(k string) bool {
	switch k {
	case "stage", "script", "before_script", "after_script", "variables", "when",
		"allow_failure", "needs", "only", "except", "rules", "artifacts", "image",
		"services", "tags", "cache", "retry", "timeout", "dependencies", "environment",
		"coverage", "interruptible", "resource_group", "extends", "parallel", "start_in",
		"release", "pages", "id_tokens", "secrets", "hooks", "inherit",
		"manual_confirmation", "identity":
		return true
	}
	return false
}

// isBridgeKey lists the keywords of a trigger job. A bridge runs nothing, so
// script-related keywords are unknown keys, as in GitLab.
func isBridgeKey(k string) bool {
	switch k {
	case "trigger", "stage", "variables", "when", "allow_failure", "needs", "only",
		"except", "rules", "extends", "parallel", "environment", "resource_group",
		"inherit", "manual_confirmation":
		return true
	}
	return false
}

func isJobWhen(w string) bool {
	switch w {
	case "on_success", "on_failure", "always", "manual", "delayed":
		return true
	}
	return false
}

// parseJob validates one visible job after `extends` has been merged and
// compiles its conditions. The checks run in roughly GitLab's order so the
// first error reported is the one GitLab would list first.
func (p *parser) parseJob(name string, m *mapping) (*job, error) {
	path := "jobs:" + name
	if len(name) > maxJobNameLength {
		return nil, configErrorf("%s name is too long (maximum is %d characters)", path, maxJobNameLength)
	}
	// GitLab decides the job type first: script (or run) makes a job,
	// otherwise trigger makes a bridge.
	isBridge := false
	switch {
	case m.has("script") || m.has("run"):
	case m.has("trigger"):
		isBridge = true
	default:
		return nil, configErrorf("%s config should implement the script:, run:, or trigger: keyword", path)
	}
	allowed := isJobKey
	if isBridge {
		allowed = isBridgeKey
	}
	if bad := unknownKeys(m, allowed); bad != "" {
		return nil, configErrorf("%s config contains unknown keys: %s", path, bad)
	}
	if m.has("rules") {
		// GitLab lists the offending keys in the order they appear in the job.
		var with []string
		for _, k := range m.keys {
			if k == "only" || k == "except" || k == "start_in" {
				with = append(with, k)
			}
		}
		if len(with) > 0 {
			return nil, configErrorf("%s config key may not be used with `rules`: %s", path, strings.Join(with, ", "))
		}
	}

	j := &job{name: name, stage: "test"}
	if err := p.parseJobBody(j, path, m, isBridge); err != nil {
		return nil, err
	}

	idx, ok := p.cfg.stageIndex[j.stage]
	if !ok {
		return nil, configErrorf("%s job: chosen stage %s does not exist; available stages are %s",
			name, j.stage, strings.Join(p.cfg.stages, ", "))
	}
	j.stageIndex = idx
	return j, nil
}

// parseJobBody reads the keywords of a job whose shape was checked by parseJob.
func (p *parser) parseJobBody(j *job, path string, m *mapping, isBridge bool) error {
	if raw, ok := m.get("stage"); ok {
		s, ok := stringValue(raw)
		if !ok {
			return configErrorf("%s stage should be a string", path)
		}
		j.stage = s
	}
	if err := p.parseInherit(j, path, m); err != nil {
		return err
	}
	if !isBridge {
		if err := p.parseScripts(j, path, m); err != nil {
			return err
		}
	}
	if raw, ok := m.get("when"); ok {
		s, _ := stringValue(raw)
		if !isJobWhen(s) {
			return configErrorf("%s when should be one of: on_success, on_failure, always, manual, delayed", path)
		}
		j.when = s
	}
	if raw, ok := m.get("start_in"); ok {
		s, ok := scalarString(raw)
		if !ok {
			return configErrorf("%s start in should be a duration", path)
		}
		j.startIn = s
	}
	if j.when == "delayed" && j.startIn == "" && !m.has("rules") {
		return configErrorf("%s start in can't be blank", path)
	}
	if j.when != "delayed" && m.has("start_in") {
		return configErrorf("%s start in should be blank", path)
	}
	if raw, ok := m.get("allow_failure"); ok {
		if err := j.parseAllowFailure(path, raw); err != nil {
			return err
		}
	}
	if raw, ok := m.get("needs"); ok {
		needs, err := parseNeeds(path, raw)
		if err != nil {
			return err
		}
		j.needs = needs
	}
	vars, err := parseVariables(path+":variables", m.values["variables"])
	if err != nil {
		return err
	}
	j.variables = vars
	if raw, ok := m.get("rules"); ok {
		rules, err := parseRules(path, raw, false)
		if err != nil {
			return err
		}
		j.rules, j.hasRules = rules, true
		for i := range rules {
			if rules[i].needsSet {
				j.rulesHaveNeeds = true
			}
		}
	}
	if raw, ok := m.get("only"); ok {
		if j.only, err = parsePolicy(path+":only", raw); err != nil {
			return err
		}
	}
	if raw, ok := m.get("except"); ok {
		if j.except, err = parsePolicy(path+":except", raw); err != nil {
			return err
		}
		if j.except.empty() {
			j.except = nil
		}
	}
	if !j.hasRules && j.only == nil {
		j.only = defaultOnly()
	}
	if isBridge {
		if j.trigger, err = parseTrigger(path, m.values["trigger"]); err != nil {
			return err
		}
	}
	if raw, ok := m.get("artifacts"); ok {
		if j.artifacts, err = parseArtifacts(path, raw); err != nil {
			return err
		}
	} else if !isBridge && p.inheritsDefault(m, "artifacts") {
		j.artifacts = p.defaults.artifacts
	}
	if raw, ok := m.get("dependencies"); ok {
		deps, ok := stringList(raw)
		if !ok {
			return configErrorf("%s dependencies should be an array of strings", path)
		}
		j.dependencies = deps
	}
	if raw, ok := m.get("extends"); ok {
		if _, ok := stringOrList(raw); !ok {
			return configErrorf("%s extends should be an array of strings or a string", path)
		}
	}
	return nil
}

// parseScripts reads script, before_script and after_script; the latter two
// fall back to `default:` unless `inherit:default` says otherwise.
func (p *parser) parseScripts(j *job, path string, m *mapping) error {
	read := func(key string) ([]string, bool, error) {
		raw, ok := m.get(key)
		if !ok {
			return nil, false, nil
		}
		lines, ok := scriptLines(raw)
		if !ok {
			return nil, false, configErrorf("%s %s config should be a string or a nested array of strings up to 10 levels deep", path, key)
		}
		return lines, true, nil
	}
	script, _, err := read("script")
	if err != nil {
		return err
	}
	if len(script) == 0 {
		return configErrorf("%s script can't be blank", path)
	}
	j.script = script
	before, ok, err := read("before_script")
	if err != nil {
		return err
	}
	if !ok && p.inheritsDefault(m, "before_script") {
		before = p.defaults.beforeScript
	}
	j.beforeScript = before
	after, ok, err := read("after_script")
	if err != nil {
		return err
	}
	if !ok && p.inheritsDefault(m, "after_script") {
		after = p.defaults.afterScript
	}
	j.afterScript = after
	return nil
}

// parseAllowFailure accepts a boolean or `exit_codes: N | [N, ...]`.
func (j *job) parseAllowFailure(path string, raw any) error {
	switch t := raw.(type) {
	case bool:
		j.allowFailure = &t
		return nil
	case *mapping:
		if bad := unknownKeys(t, func(k string) bool { return k == "exit_codes" }); bad != "" {
			return configErrorf("%s:allow_failure config contains unknown keys: %s", path, bad)
		}
		var codes []any
		switch c := t.values["exit_codes"].(type) {
		case int64:
			codes = []any{c}
		case []any:
			codes = c
		default:
			return configErrorf("%s:allow_failure exit_codes should be an array of integers or an integer", path)
		}
		for _, c := range codes {
			n, ok := c.(int64)
			if !ok || n < 0 || n > 255 {
				return configErrorf("%s:allow_failure exit_codes should be an array of integers or an integer", path)
			}
			j.exitCodes = append(j.exitCodes, int(n))
		}
		f := false
		j.allowFailure = &f
		return nil
	default:
		return configErrorf("%s allow failure should be a hash or a boolean value", path)
	}
}

func isInheritKey(k string) bool { return k == "default" || k == "variables" }

// parseInherit reads `inherit:`. `inherit:default` is applied while reading
// scripts and artifacts; `inherit:variables` is kept for Evaluate.
func (p *parser) parseInherit(j *job, path string, m *mapping) error {
	raw, ok := m.get("inherit")
	if !ok {
		return nil
	}
	im, ok := raw.(*mapping)
	if !ok {
		return configErrorf("%s:inherit config should be a hash", path)
	}
	if bad := unknownKeys(im, isInheritKey); bad != "" {
		return configErrorf("%s:inherit config contains unknown keys: %s", path, bad)
	}
	if d, ok := im.get("default"); ok {
		if _, isBool := d.(bool); !isBool {
			if _, isList := stringList(d); !isList {
				return configErrorf("%s:inherit default should be a boolean value or an array of strings", path)
			}
		}
	}
	v, ok := im.get("variables")
	if !ok {
		return nil
	}
	switch t := v.(type) {
	case bool:
		if !t {
			j.inherit = &inheritance{none: true}
			j.inheritList = []string{}
		}
	default:
		names, ok := stringList(v)
		if !ok {
			return configErrorf("%s:inherit variables should be a boolean value or an array of strings", path)
		}
		in := &inheritance{only: make(map[string]bool, len(names))}
		for _, n := range names {
			in.only[n] = true
		}
		j.inherit, j.inheritList = in, slices.Clone(names)
	}
	return nil
}

// inheritsDefault reports whether a job takes `default:<key>`, honouring
// `inherit:default: false` and `inherit:default: [keys]`.
func (p *parser) inheritsDefault(m *mapping, key string) bool {
	if !p.defaults.keys.has(key) {
		return false
	}
	im, ok := m.values["inherit"].(*mapping)
	if !ok {
		return true
	}
	switch d := im.values["default"].(type) {
	case nil:
		return true
	case bool:
		return d
	default:
		list, _ := stringList(d)
		return slices.Contains(list, key)
	}
}
