package ciconfig

import (
	"strings"
)

// Config is a parsed and validated .gitlab-ci.yml. It is immutable and safe
// for concurrent use; Evaluate may be called from many goroutines at once.
type Config struct {
	stages       []string // .pre, user stages, .post
	stageIndex   map[string]int
	variables    map[string]string // global `variables:`
	workflow     []rule            // nil: no workflow:rules
	workflowName string
	jobs         []*job // visible jobs in config order
	jobIndex     map[string]int
	hasNeeds     bool
}

// Stages returns the full stage list, .pre first and .post last.
func (c *Config) Stages() []string {
	return append([]string(nil), c.stages...)
}

// JobNames returns the visible jobs in config order; useful for linting and
// for API responses that list a config's jobs.
func (c *Config) JobNames() []string {
	names := make([]string, len(c.jobs))
	for i, j := range c.jobs {
		names[i] = j.name
	}
	return names
}

// defaultStages are GitLab's stages when `stages:` is absent.
func defaultStages() []string { return []string{"build", "test", "deploy"} }

// Parse parses and validates a CI config. A syntactically or semantically
// invalid config returns a *ConfigError whose Error() is GitLab's message
// text. All expressions and regular expressions are compiled here so that
// Evaluate does no parsing.
func Parse(src []byte) (*Config, error) {
	root, err := loadYAML(src)
	if err != nil {
		return nil, err
	}
	p := &parser{root: root, cfg: &Config{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// parser holds the state of one Parse call.
type parser struct {
	root     *mapping
	cfg      *Config
	defaults jobDefaults
}

// jobDefaults are the parsed `default:` values (and their deprecated
// top-level spellings) that jobs inherit when they do not set them.
type jobDefaults struct {
	keys         *mapping // raw default entries, for inherit:default lists
	beforeScript []string
	afterScript  []string
	artifacts    *Artifacts
}

// isGlobalKeyword reports whether a top-level key is a keyword rather than a
// job name.
func isGlobalKeyword(k string) bool {
	switch k {
	case "stages", "variables", "workflow", "default", "include",
		"image", "services", "cache", "before_script", "after_script":
		return true
	}
	return false
}

// isDeprecatedGlobal reports the top-level keys GitLab still accepts as
// aliases of the same `default:` key.
func isDeprecatedGlobal(k string) bool {
	switch k {
	case "image", "services", "cache", "before_script", "after_script":
		return true
	}
	return false
}

func isDefaultKey(k string) bool {
	switch k {
	case "after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens",
		"image", "interruptible", "retry", "services", "tags", "timeout":
		return true
	}
	return false
}

func isWorkflowKey(k string) bool {
	return k == "rules" || k == "name" || k == "auto_cancel"
}

func (p *parser) parse() error {
	if p.root.has("include") {
		return configErrorf("include config is not supported by this server: put the included configuration directly in .gitlab-ci.yml")
	}
	var jobNames []string
	for _, key := range p.root.keys {
		if isGlobalKeyword(key) || strings.HasPrefix(key, ".") {
			continue
		}
		if _, ok := p.root.values[key].(*mapping); !ok {
			return configErrorf("jobs:%s config should be a hash", key)
		}
		jobNames = append(jobNames, key)
	}
	if err := p.parseStages(); err != nil {
		return err
	}
	vars, err := parseVariables("variables", p.root.values["variables"])
	if err != nil {
		return err
	}
	p.cfg.variables = vars
	if err := p.parseWorkflow(); err != nil {
		return err
	}
	if err := p.parseDefaults(); err != nil {
		return err
	}
	if len(jobNames) == 0 {
		return configErrorf("jobs config should contain at least one visible job")
	}
	ext := newExtender(p.root)
	p.cfg.jobIndex = make(map[string]int, len(jobNames))
	for _, name := range jobNames {
		m, err := ext.resolve(name, 0)
		if err != nil {
			return err
		}
		j, err := p.parseJob(name, m)
		if err != nil {
			return err
		}
		p.cfg.jobIndex[name] = len(p.cfg.jobs)
		p.cfg.jobs = append(p.cfg.jobs, j)
	}
	return p.checkDependencies()
}

func (p *parser) parseStages() error {
	user := defaultStages()
	if raw, ok := p.root.get("stages"); ok && raw != nil {
		list, ok := stringList(raw)
		if !ok {
			return configErrorf("stages config should be an array of strings")
		}
		user = list
	}
	stages := make([]string, 0, len(user)+2)
	stages = append(stages, ".pre")
	index := map[string]int{".pre": 0}
	for _, s := range user {
		if _, dup := index[s]; dup || s == ".post" {
			continue
		}
		index[s] = len(stages)
		stages = append(stages, s)
	}
	index[".post"] = len(stages)
	stages = append(stages, ".post")
	p.cfg.stages, p.cfg.stageIndex = stages, index
	return nil
}

func (p *parser) parseWorkflow() error {
	raw, ok := p.root.get("workflow")
	if !ok || raw == nil {
		return nil
	}
	m, ok := raw.(*mapping)
	if !ok {
		return configErrorf("workflow config should be a hash")
	}
	if bad := unknownKeys(m, isWorkflowKey); bad != "" {
		return configErrorf("workflow config contains unknown keys: %s", bad)
	}
	if r, ok := m.get("rules"); ok {
		rules, err := parseRules("workflow", r, true)
		if err != nil {
			return err
		}
		p.cfg.workflow = rules
	}
	if n, ok := m.get("name"); ok {
		s, ok := stringValue(n)
		if !ok {
			return configErrorf("workflow name should be a string")
		}
		p.cfg.workflowName = s
	}
	return nil
}

func (p *parser) parseDefaults() error {
	def := newMapping(0)
	if raw, ok := p.root.get("default"); ok && raw != nil {
		m, ok := raw.(*mapping)
		if !ok {
			return configErrorf("default config should be a hash")
		}
		if bad := unknownKeys(m, isDefaultKey); bad != "" {
			return configErrorf("default config contains unknown keys: %s", bad)
		}
		def = deepMerge(def, m)
	}
	for _, key := range p.root.keys {
		if !isDeprecatedGlobal(key) {
			continue
		}
		if def.has(key) {
			return configErrorf("%s is defined in top-level and `default:` entry", key)
		}
		def.set(key, p.root.values[key])
	}
	p.defaults.keys = def
	if raw, ok := def.get("before_script"); ok {
		lines, ok := scriptLines(raw)
		if !ok {
			return configErrorf("default:before_script config should be a string or a nested array of strings up to 10 levels deep")
		}
		p.defaults.beforeScript = lines
	}
	if raw, ok := def.get("after_script"); ok {
		lines, ok := scriptLines(raw)
		if !ok {
			return configErrorf("default:after_script config should be a string or a nested array of strings up to 10 levels deep")
		}
		p.defaults.afterScript = lines
	}
	if raw, ok := def.get("artifacts"); ok {
		a, err := parseArtifacts("default", raw)
		if err != nil {
			return err
		}
		p.defaults.artifacts = a
	}
	return nil
}

// checkDependencies runs GitLab's static checks that relate jobs to each
// other: `dependencies:` must name jobs of the current or an earlier stage,
// `needs:` may not repeat a job, and needs may not form a cycle. Needs on jobs
// that rules or only/except leave out are checked per pipeline in Evaluate.
func (p *parser) checkDependencies() error {
	c := p.cfg
	for _, j := range c.jobs {
		for _, dep := range j.dependencies {
			idx, ok := c.jobIndex[dep]
			if !ok {
				return configErrorf("%s job: undefined dependency: %s", j.name, dep)
			}
			if c.jobs[idx].stageIndex > j.stageIndex {
				return configErrorf("%s job: dependency %s is not defined in current or prior stages", j.name, dep)
			}
		}
		if err := duplicateNeeds(j.name, j.needs); err != nil {
			return err
		}
		for i := range j.rules {
			if err := duplicateNeeds(j.name, j.rules[i].needs); err != nil {
				return err
			}
		}
		if j.needs != nil || j.rulesHaveNeeds {
			c.hasNeeds = true
		}
	}
	if c.hasNeeds && p.hasNeedsCycle() {
		return configErrorf("The pipeline has circular dependencies")
	}
	return nil
}

// hasNeedsCycle looks for a cycle among the needs of jobs defined in the
// config (job-level and rule-level needs together). Needs can point at jobs
// of the same stage, so cycles are possible.
func (p *parser) hasNeedsCycle() bool {
	c := p.cfg
	const (
		unvisited = iota
		active
		finished
	)
	state := make([]uint8, len(c.jobs))
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = active
		j := c.jobs[i]
		check := func(needs []need) bool {
			for _, n := range needs {
				k, ok := c.jobIndex[n.job]
				if !ok {
					continue
				}
				if state[k] == active || state[k] == unvisited && visit(k) {
					return true
				}
			}
			return false
		}
		if check(j.needs) {
			return true
		}
		for r := range j.rules {
			if check(j.rules[r].needs) {
				return true
			}
		}
		state[i] = finished
		return false
	}
	for i := range c.jobs {
		if state[i] == unvisited && visit(i) {
			return true
		}
	}
	return false
}
