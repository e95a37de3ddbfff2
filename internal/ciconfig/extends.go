package ciconfig

// maxExtendsDepth is GitLab's limit on `extends` chains.
const maxExtendsDepth = 10

// extender resolves `extends:` for top-level entries. Results are memoised so
// a template shared by many jobs is merged once.
type extender struct {
	root     *mapping
	done     map[string]*mapping
	visiting map[string]bool
}

func newExtender(root *mapping) *extender {
	return &extender{root: root, done: make(map[string]*mapping), visiting: make(map[string]bool)}
}

// resolve returns the job config for name with every base in `extends`
// deep-merged underneath it: hashes merge recursively, the job's own keys win,
// and arrays (script, rules, needs, ...) are replaced, not concatenated. With
// several bases, later ones override earlier ones, as in GitLab.
func (e *extender) resolve(name string, depth int) (*mapping, error) {
	if m, ok := e.done[name]; ok {
		return m, nil
	}
	m := e.root.values[name].(*mapping)
	raw, ok := m.get("extends")
	if !ok {
		e.done[name] = m
		return m, nil
	}
	if e.visiting[name] {
		return nil, configErrorf("%s: circular dependency detected in `extends`", name)
	}
	if depth >= maxExtendsDepth {
		return nil, configErrorf("%s: nesting too deep in `extends`", name)
	}
	bases, ok := stringOrList(raw)
	if !ok {
		return nil, configErrorf("%s: extends should be an array of strings or a string", name)
	}
	e.visiting[name] = true
	merged := newMapping(len(m.keys))
	for _, base := range bases {
		bv, ok := e.root.get(base)
		if !ok {
			return nil, configErrorf("%s: unknown key in `extends` (%s)", name, base)
		}
		if _, ok := bv.(*mapping); !ok {
			return nil, configErrorf("%s: invalid base hash in `extends` (%s)", name, base)
		}
		resolved, err := e.resolve(base, depth+1)
		if err != nil {
			return nil, err
		}
		merged = deepMerge(merged, resolved)
	}
	merged = deepMerge(merged, m)
	delete(e.visiting, name)
	e.done[name] = merged
	return merged, nil
}

// deepMerge returns a new mapping with over merged onto base. Neither input is
// modified, because templates are shared between jobs.
func deepMerge(base, over *mapping) *mapping {
	out := newMapping(len(base.keys) + len(over.keys))
	for _, k := range base.keys {
		out.set(k, base.values[k])
	}
	for _, k := range over.keys {
		ov := over.values[k]
		if bm, ok := out.values[k].(*mapping); ok {
			if om, ok := ov.(*mapping); ok {
				out.set(k, deepMerge(bm, om))
				continue
			}
		}
		out.set(k, ov)
	}
	return out
}
