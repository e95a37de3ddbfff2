package ciconfig

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on the decoded document. GitLab caps YAML depth at 100 and rejects
// documents whose alias expansion explodes; the node budget plays that role
// here so a small "billion laughs" input cannot exhaust memory.
const (
	maxYAMLDepth = 100
	maxYAMLNodes = 500_000
)

// mapping is a YAML mapping that remembers key order. Job order in the file
// decides job order within a stage, so a plain Go map is not enough.
type mapping struct {
	keys   []string
	values map[string]any
}

func newMapping(capacity int) *mapping {
	return &mapping{keys: make([]string, 0, capacity), values: make(map[string]any, capacity)}
}

// get returns the value stored under key.
func (m *mapping) get(key string) (any, bool) {
	v, ok := m.values[key]
	return v, ok
}

// has reports whether key is present.
func (m *mapping) has(key string) bool {
	_, ok := m.values[key]
	return ok
}

// set stores value under key; an existing key keeps its position, as a Ruby
// hash does when a duplicate key is reassigned.
func (m *mapping) set(key string, value any) {
	if _, ok := m.values[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.values[key] = value
}

// reference is an unresolved `!reference [key, subkey, ...]` tag.
type reference []string

func (r reference) String() string { return "[" + strings.Join(r, ", ") + "]" }

// loadYAML decodes src into ordered mappings, sequences and scalars (string,
// bool, int64, float64, nil) with aliases and merge keys expanded and
// `!reference` tags resolved.
func loadYAML(src []byte) (*mapping, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, configErrorf("Please provide content of .gitlab-ci.yml")
		}
		return nil, &ConfigError{Msg: err.Error()}
	}
	c := &converter{budget: maxYAMLNodes}
	root, err := c.root(&doc)
	if err != nil {
		return nil, err
	}
	// A `spec:` header document (CI/CD inputs) precedes the real configuration,
	// separated by `---`.
	if len(root.keys) == 1 && root.keys[0] == "spec" {
		var body yaml.Node
		if err := dec.Decode(&body); err == nil {
			if spec, ok := root.values["spec"].(*mapping); ok && spec.has("inputs") {
				return nil, configErrorf("spec:inputs is not supported by this server")
			}
			if root, err = c.root(&body); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, io.EOF) {
			return nil, &ConfigError{Msg: err.Error()}
		}
	}
	if c.hasReferences {
		r := &referenceResolver{root: root, budget: &c.budget}
		resolved, err := r.resolve(root, 0)
		if err != nil {
			return nil, err
		}
		root = resolved.(*mapping)
	}
	return root, nil
}

// converter turns yaml.Node trees into plain values. Aliases are copied, not
// shared, so later passes may build new values freely; the node budget bounds
// the copying.
type converter struct {
	budget        int
	hasReferences bool
}

func (c *converter) root(doc *yaml.Node) (*mapping, error) {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, configErrorf("Please provide content of .gitlab-ci.yml")
		}
		n = n.Content[0]
	}
	v, err := c.convert(n, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(*mapping)
	if !ok {
		if v == nil {
			return nil, configErrorf("Please provide content of .gitlab-ci.yml")
		}
		return nil, configErrorf("Invalid configuration format")
	}
	return m, nil
}

func (c *converter) convert(n *yaml.Node, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, configErrorf("The parsed YAML is too deep (more than %d levels)", maxYAMLDepth)
	}
	c.budget--
	if c.budget < 0 {
		return nil, configErrorf("The parsed YAML is too big")
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, configErrorf("unknown anchor '%s' referenced", n.Value)
		}
		return c.convert(n.Alias, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.SequenceNode:
		return c.sequence(n, depth)
	case yaml.ScalarNode:
		if n.Tag == "!reference" {
			return nil, configErrorf("!reference tags must be arrays of strings")
		}
		return scalarValue(n), nil
	default:
		return nil, configErrorf("Invalid configuration format")
	}
}

func (c *converter) sequence(n *yaml.Node, depth int) (any, error) {
	if n.Tag == "!reference" {
		c.hasReferences = true
		ref := make(reference, 0, len(n.Content))
		for _, item := range n.Content {
			for item.Kind == yaml.AliasNode && item.Alias != nil {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode {
				return nil, configErrorf("!reference tags must be arrays of strings")
			}
			ref = append(ref, item.Value)
		}
		if len(ref) == 0 {
			return nil, configErrorf("!reference tags must not be empty")
		}
		return ref, nil
	}
	out := make([]any, 0, len(n.Content))
	for _, item := range n.Content {
		v, err := c.convert(item, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// mapping converts a YAML mapping. Keys written explicitly win over keys
// brought in by `<<` merge keys wherever they appear, and among several merged
// mappings the earlier one wins, as the YAML merge-key spec says.
func (c *converter) mapping(n *yaml.Node, depth int) (any, error) {
	pairs := len(n.Content) / 2
	out := newMapping(pairs)
	explicit := make(map[string]bool, pairs)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMergeKey(k) {
			continue
		}
		key, err := keyString(k)
		if err != nil {
			return nil, err
		}
		explicit[key] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			if err := c.merge(out, explicit, v, depth); err != nil {
				return nil, err
			}
			continue
		}
		key, _ := keyString(k)
		val, err := c.convert(v, depth+1)
		if err != nil {
			return nil, err
		}
		out.set(key, val)
	}
	return out, nil
}

func (c *converter) merge(out *mapping, explicit map[string]bool, v *yaml.Node, depth int) error {
	var sources []*yaml.Node
	target := v
	for target.Kind == yaml.AliasNode && target.Alias != nil {
		target = target.Alias
	}
	switch target.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		sources = target.Content
	default:
		return configErrorf("map merge requires map or sequence of maps as the value")
	}
	for _, src := range sources {
		val, err := c.convert(src, depth+1)
		if err != nil {
			return err
		}
		m, ok := val.(*mapping)
		if !ok {
			return configErrorf("map merge requires map or sequence of maps as the value")
		}
		for _, key := range m.keys {
			if explicit[key] || out.has(key) {
				continue
			}
			out.set(key, m.values[key])
		}
	}
	return nil
}

func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge"
}

// keyString returns a mapping key as text. Non-scalar keys have no meaning in
// a CI config.
func keyString(n *yaml.Node) (string, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", configErrorf("Invalid configuration format: mapping keys must be scalars")
	}
	return n.Value, nil
}

// scalarValue resolves a scalar to a Go value using YAML's core schema.
// Anything that is not a plain null, bool, int or float stays a string.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

// referenceResolver replaces `!reference` tags with the value found at their
// path in the (unresolved) document, following GitLab's limit of 10 nested
// references.
type referenceResolver struct {
	root   *mapping
	budget *int
}

const maxReferenceDepth = 10

func (r *referenceResolver) resolve(v any, depth int) (any, error) {
	*r.budget--
	if *r.budget < 0 {
		return nil, configErrorf("The parsed YAML is too big")
	}
	switch t := v.(type) {
	case *mapping:
		out := newMapping(len(t.keys))
		for _, k := range t.keys {
			val, err := r.resolve(t.values[k], depth)
			if err != nil {
				return nil, err
			}
			out.set(k, val)
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for _, item := range t {
			val, err := r.resolve(item, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	case reference:
		if depth >= maxReferenceDepth {
			return nil, configErrorf("!reference %s is part of a circular chain or nested more than %d levels deep", t, maxReferenceDepth)
		}
		var cur any = r.root
		for _, key := range t {
			m, ok := cur.(*mapping)
			if !ok {
				return nil, configErrorf("!reference %s could not be found", t)
			}
			if cur, ok = m.get(key); !ok {
				return nil, configErrorf("!reference %s could not be found", t)
			}
		}
		return r.resolve(cur, depth+1)
	default:
		return v, nil
	}
}
