package ciconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpressionEval(t *testing.T) {
	vars := map[string]string{
		"BRANCH":   "main",
		"EMPTY":    "",
		"TAG":      "v1.2.3",
		"SOURCE":   "trigger",
		"PATTERN":  "/^feature-/",
		"IPATTERN": "/^MAIN$/i",
		"NOTPAT":   "main",
		"OTHER":    "main",
		"TRUE":     "true",
	}
	tests := []struct {
		expr string
		want bool
	}{
		// Presence.
		{`$BRANCH`, true},
		{`${BRANCH}`, true},
		{`$EMPTY`, false},
		{`$UNDEFINED`, false},
		// Equality with strings, both quote styles, either side.
		{`$BRANCH == "main"`, true},
		{`$BRANCH == 'main'`, true},
		{`"main" == $BRANCH`, true},
		{`$BRANCH != "main"`, false},
		{`$BRANCH == "Main"`, false},
		{`$BRANCH == $OTHER`, true},
		{`$BRANCH != $TAG`, true},
		// null and the empty string are different things.
		{`$UNDEFINED == null`, true},
		{`$UNDEFINED != null`, false},
		{`$UNDEFINED == ""`, false},
		{`$UNDEFINED != ""`, true},
		{`$EMPTY == ""`, true},
		{`$EMPTY == null`, false},
		{`$EMPTY != null`, true},
		{`$BRANCH == null`, false},
		{`$UNDEFINED == $ALSO_UNDEFINED`, true},
		{`null == null`, true},
		// Regexps.
		{`$TAG =~ /^v\d+\.\d+\.\d+$/`, true},
		{`$TAG =~ /^V/`, false},
		{`$TAG =~ /^V/i`, true},
		{`$TAG !~ /^v/`, false},
		{`$BRANCH =~ /ai/`, true},
		{`$UNDEFINED =~ /^$/`, true},
		{`$UNDEFINED =~ /x/`, false},
		{`$BRANCH =~ /^release\/.*$/`, false},
		{`"release/1" =~ /^release\/\d$/`, true},
		{`$TAG =~ /^v\h\./`, true},
		// Regexps held by variables (GitLab 15+).
		{`"feature-x" =~ $PATTERN`, true},
		{`$BRANCH =~ $PATTERN`, false},
		{`$BRANCH =~ $IPATTERN`, true},
		{`$BRANCH =~ $NOTPAT`, false},
		{`$BRANCH !~ $NOTPAT`, true},
		{`$BRANCH =~ $UNDEFINED`, false},
		{`$BRANCH =~ "/^ma/"`, true},
		// Boolean operators and precedence: && binds tighter than ||.
		{`$BRANCH == "main" && $SOURCE == "trigger"`, true},
		{`$BRANCH == "main" && $SOURCE == "push"`, false},
		{`$BRANCH == "x" || $SOURCE == "trigger"`, true},
		{`$TRUE || $UNDEFINED && $UNDEFINED`, true},            // true || (false && false)
		{`($TRUE || $UNDEFINED) && $UNDEFINED`, false},         // parentheses change it
		{`$UNDEFINED && $UNDEFINED || $TRUE`, true},            // (false && false) || true
		{`$EMPTY && $BRANCH == "main"`, false},                 // empty is false inside && too
		{`(($BRANCH == "main"))`, true},                        // nested parentheses
		{`$BRANCH=="main"&&($TAG=~/^v1/||$SOURCE=="x")`, true}, // no spaces
		{`"text"`, true},
		{`""`, false},
		{`null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseExpression(tt.expr)
			require.NoError(t, err)
			require.Equal(t, tt.want, e.Eval(vars))
			require.Equal(t, tt.expr, e.String())
		})
	}
}

func TestExpressionNilVariables(t *testing.T) {
	e, err := ParseExpression(`$X == null && $Y != "a"`)
	require.NoError(t, err)
	require.True(t, e.Eval(nil))
}

func TestExpressionDynamicPatternCacheStaysBounded(t *testing.T) {
	e, err := ParseExpression(`$REF =~ $PATTERN`)
	require.NoError(t, err)
	for i := 0; i < 3*maxCachedPatterns; i++ {
		pattern := "/^r" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "/"
		require.False(t, e.Eval(map[string]string{"REF": "main", "PATTERN": pattern}))
	}
	require.LessOrEqual(t, len(e.cache.m), maxCachedPatterns)
	require.True(t, e.Eval(map[string]string{"REF": "main", "PATTERN": "/ai/"}))
}

func TestParseExpressionErrors(t *testing.T) {
	tests := []string{
		``,
		`   `,
		`$`,
		`${}`,
		`${A`,
		`$A ==`,
		`== "a"`,
		`$A = "a"`,
		`$A == "unterminated`,
		`$A =~ /unterminated`,
		`$A =~ //`,
		`$A =~ /[/`,
		`$A =~ "not a pattern"`,
		`$A =~ /a/x`,
		`$A $B`,
		`($A == "a"`,
		`$A == "a")`,
		`$A && `,
		`&& $A`,
		`/a/ =~ $A`,
		`$A == /a/`,
		`$A == "a" == "b"`,
		`!$A`,
		`nullx`,
		`$A == nul`,
		`()`,
	}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) {
			_, err := ParseExpression(src)
			require.Error(t, err)
			require.Contains(t, err.Error(), "invalid expression syntax")
		})
	}
}

func TestParseExpressionTokenLimit(t *testing.T) {
	src := `$A`
	for i := 0; i < 60; i++ {
		src += ` || $A`
	}
	_, err := ParseExpression(src)
	require.ErrorContains(t, err, "more than 100 tokens")
}

func TestCompilePatternFlags(t *testing.T) {
	tests := []struct {
		lit, text string
		want      bool
	}{
		{`/^a.b$/`, "a\nb", false},
		{`/^a.b$/m`, "a\nb", true}, // Ruby's m: dot matches newline
		{`/^a.b$/s`, "a\nb", true},
		{`/ABC/i`, "xabcx", true},
		{`/a\Z/`, "a\n", true},
		{`/[\h]+/`, "ff", true},
		{`/\H/`, "g", true},
		{`/a\/b/`, "a/b", true},
		{`/(?<year>\d{4})/`, "in 2024", true},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			re, err := compilePattern(tt.lit)
			require.NoError(t, err)
			require.Equal(t, tt.want, re.MatchString(tt.text))
		})
	}
}
