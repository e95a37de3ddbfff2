package shellsim

// The syntax tree of a parsed script. A script is a list of and-or lists;
// compound commands (if, for, while, groups) nest lists of their own.

// list is a sequence of and-or lists separated by ";" or newlines.
type list struct {
	items []*andOr
}

// andOr is a chain of pipelines joined by "&&" and "||".
type andOr struct {
	first *pipeline
	rest  []andOrItem
}

type andOrItem struct {
	and bool // true for "&&", false for "||"
	p   *pipeline
}

// pipeline is one or more commands joined by "|", optionally negated by "!".
type pipeline struct {
	negate bool
	cmds   []command
}

// command is one of *simpleCmd, *ifCmd, *forCmd, *whileCmd, *groupCmd or
// *testCmd.
type command interface {
	redirections() []*redir
}

// simpleCmd is "NAME=value ... word ... [redirections]".
type simpleCmd struct {
	assigns []assign
	args    []*word
	redirs  []*redir
}

type assign struct {
	name     string
	value    *word
	appendTo bool // NAME+=value
}

// ifCmd is "if c; then b; elif c; then b; else b; fi".
type ifCmd struct {
	conds  []*list
	bodies []*list
	els    *list // nil without else
	redirs []*redir
}

// forCmd is "for name in words; do body; done".
type forCmd struct {
	name   string
	words  []*word
	body   *list
	redirs []*redir
}

// whileCmd is "while cond; do body; done" (until negates cond).
type whileCmd struct {
	until  bool
	cond   *list
	body   *list
	redirs []*redir
}

// groupCmd is "{ list; }" or, with subshell set, "( list )".
type groupCmd struct {
	subshell bool
	body     *list
	redirs   []*redir
}

// testCmd is bash's "[[ expression ]]". Operators are kept as plain
// tokens; words keep their quoting so that the right-hand side of == can be
// a pattern.
type testCmd struct {
	items  []testItem
	redirs []*redir
}

type testItem struct {
	op   string // "&&", "||", "!", "(", ")", "<", ">" or "" for a word
	word *word
}

func (c *simpleCmd) redirections() []*redir { return c.redirs }
func (c *ifCmd) redirections() []*redir     { return c.redirs }
func (c *forCmd) redirections() []*redir    { return c.redirs }
func (c *whileCmd) redirections() []*redir  { return c.redirs }
func (c *groupCmd) redirections() []*redir  { return c.redirs }
func (c *testCmd) redirections() []*redir   { return c.redirs }

// redir is one redirection. fd is the redirected descriptor; op is one of
// ">", ">>", "<", ">&", "<&", "&>", "&>>" or "<<" (here-document, whose
// body is in heredoc).
type redir struct {
	fd      int
	op      string
	target  *word
	heredoc *word
}

// word is a shell word: a sequence of literal text, parameter expansions and
// command substitutions, each remembering whether it was quoted.
type word struct {
	parts []wordPart
	raw   string // the source text, for "[simulated]" lines and errors
}

type partKind int

const (
	partLit partKind = iota
	partParam
	partCmdSubst
	partArith
)

type wordPart struct {
	kind   partKind
	quoted bool // inside quotes or escaped: no field splitting, no globbing
	lit    string
	param  *paramExp
	subst  *list
	arith  *word // the expression of $((...)), expanded before evaluation
}

// paramExp is $NAME or ${NAME<op><arg>}. op is "" (plain), "len" (${#NAME}),
// or one of ":-" "-" ":=" "=" ":+" "+" ":?" "?" "#" "##" "%" "%%".
type paramExp struct {
	name string
	op   string
	arg  *word
}

// literal reports whether w is a single unquoted literal and returns it;
// reserved words and assignments are recognised this way.
func (w *word) literal() (string, bool) {
	if len(w.parts) != 1 || w.parts[0].kind != partLit || w.parts[0].quoted {
		return "", false
	}
	return w.parts[0].lit, true
}

// quoted reports whether any part of w was quoted, which makes a
// here-document delimiter suppress expansion in the body.
func (w *word) quoted() bool {
	for _, p := range w.parts {
		if p.quoted {
			return true
		}
	}
	return false
}
