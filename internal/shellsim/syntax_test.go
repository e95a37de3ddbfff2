package shellsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpansionAndQuoting(t *testing.T) {
	env := map[string]string{"FOO": "bar", "P": "a/b/c", "SPACED": "a  b", "EMPTY": ""}
	tests := []struct {
		name, line, want string
	}{
		{"words", `echo hello   world`, "hello world\n"},
		{"single quotes are literal", `echo 'single $FOO "q" \n'`, "single $FOO \"q\" \\n\n"},
		{"double quotes expand", `echo "double $FOO"`, "double bar\n"},
		{"braces", `echo "${FOO}x" ${FOO}y`, "barx bary\n"},
		{"undefined is empty", `echo "[$UNDEFINED]" [${UNDEFINED}]`, "[] []\n"},
		{"default", `echo ${UNDEFINED:-default} ${FOO:-default} ${EMPTY:-empty} ${UNDEFINED-unset} "[${EMPTY-unset}]"`, "default bar empty unset []\n"},
		{"quoted default", `echo "${UNDEFINED:-"a  b"}"`, "a  b\n"},
		{"alternative", `echo "[${FOO:+alt}]" "[${UNDEFINED:+alt}]"`, "[alt] []\n"},
		{"assign default", `echo ${NEW:=set} $NEW`, "set set\n"},
		{"length", `echo ${#FOO} ${#UNDEFINED}`, "3 0\n"},
		{"prefix and suffix", `echo ${P#*/} ${P##*/} ${P%/*} ${P%%/*} ${P#x}`, "b/c c a/b a a/b/c\n"},
		{"backslashes", `echo a\ b "c\"d" 'e\f' \$FOO "\$FOO"`, "a b c\"d e\\f $FOO $FOO\n"},
		{"status", `false || echo $?`, "1\n"},
		{"assignments persist in the line", `X=1; X=$X$X; echo $X`, "11\n"},
		{"field splitting", `printf '[%s]' $SPACED "$SPACED"; echo`, "[a][b][a  b]\n"},
		{"empty fields", `printf '[%s]' "" $EMPTY x "$EMPTY"; echo`, "[][x][]\n"},
		{"command substitution", `echo "$(echo hi)" $(printf 'a\nb\n\n')`, "hi a b\n"},
		{"backquotes", "echo `echo tick` \"`echo $FOO`\"", "tick bar\n"},
		{"nested substitution", `echo $(echo $(echo deep))`, "deep\n"},
		{"substitution status", `X=$(false) || echo failed`, "failed\n"},
		{"echo -n", `echo -n a; echo b`, "ab\n"},
		{"echo -e", `echo -e 'a\tb\ncd'`, "a\tb\ncd\n"},
		{"printf", `printf '%s=%d %5s|%-3s|%03d %x %%\n' a 42 r l 7 255`, "a=42     r|l  |007 ff %\n"},
		{"printf reuses format", `printf '%s;' a b c; echo`, "a;b;c;\n"},
		{"comment", `echo a # comment`, "a\n"},
		{"hash inside word", `echo a#b`, "a#b\n"},
		{"line continuation", "echo a \\\n  b", "a b\n"},
		{"prefix assignment", `X=5 printenv X; echo "[$X]"`, "5\n[]\n"},
		{"export", `export Y=2 Z; env | grep '^Y='`, "Y=2\n"},
		{"export does not split", `V="a b"; export W=$V; printenv W`, "a b\n"},
		{"unset", `unset FOO; echo "[$FOO]"`, "[]\n"},
		{"eval", `CMD='echo evaluated'; eval "$CMD"`, "evaluated\n"},
		{"here-document", "cat <<EOF\nhello $FOO\n  indented\nEOF", "hello bar\n  indented\n"},
		{"quoted here-document", "cat <<'EOF'\nhello $FOO\nEOF", "hello $FOO\n"},
		{"here-document with tabs", "cat <<-EOF\n\thello\n\tEOF", "hello\n"},
		{"pipes", `printf 'a\nb\nc\n' | grep -v b | wc -l`, "2\n"},
		{"grep -q in pipe", `echo "status: ok" | grep -q ok && echo found`, "found\n"},
		{"basename dirname", `basename /a/b/c.txt .txt; dirname /a/b/c.txt`, "c\n/a/b\n"},
		{"head tail", `printf '1\n2\n3\n4\n' | head -n 2; printf '1\n2\n3\n' | tail -1`, "1\n2\n3\n"},
		{"$? across commands", `true; echo $?`, "0\n"},
		{"special parameters", `echo "$#[$1][$@]"`, "0[][]\n"},
		{"arithmetic", `X=4; echo $((1+2*3)) $(( (1+2)*3 )) $((7/2)) $((-7%3)) $((2**10)) $((X<<2)) $((0x10+010)) $(( X > 3 ? 10 : 20 )) $((!0 && ~0))`, "7 9 3 -1 1024 16 24 10 1\n"},
		{"arithmetic counter", `N=0; while [ $N -lt 3 ]; do N=$((N+1)); done; echo $N $(( $(echo 3) + N ))`, "3 6\n"},
		{"append assignment", `X=a; X+=b; X+="$X"; echo $X`, "abab\n"},
		{"substitutions do not inherit set -e", `F=$(false; echo after); echo "[$F]"`, "[after]\n"},
		{"grep -o", `echo v1.2.3 | grep -o '[0-9.]*'`, "1.2.3\n"},
		{"basic regular expressions", `echo 'x+y' | grep 'x+y'; echo 'ab' | grep 'a\(b\)'; echo xxy | grep -E 'x+y'`, "x+y\nab\nxxy\n"},
		{"head -c", `echo hello | head -c 2; echo`, "he\n"},
		{"printf %q", `printf '%q\n' "it's"`, "'it'\\''s'\n"},
		{"wc columns", `printf 'a b\n' > f; wc f; wc -l < f; cat f | wc`, "1 2 4 f\n1\n      1       2       4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace, code := run(t, Options{Env: env}, tt.line)
			require.Equal(t, 0, code, trace)
			require.Equal(t, tt.want, output(trace))
		})
	}
}

func TestControlFlow(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
		code  int
	}{
		{"if then", []string{`if true; then echo yes; else echo no; fi`}, "yes\n", 0},
		{"else", []string{`if false; then echo yes; else echo no; fi`}, "no\n", 0},
		{"elif", []string{`if false; then echo 1; elif [ a = a ]; then echo 2; else echo 3; fi`}, "2\n", 0},
		{"no branch taken", []string{`if false; then echo 1; fi`}, "", 0},
		{"multi-line if", []string{"if [ \"$FOO\" = bar ]\nthen\n  echo one\n  echo two\nelse\n  echo three\nfi\necho after"}, "one\ntwo\nafter\n", 0},
		{"nested if", []string{"if true; then\n  if false; then echo a; else echo b; fi\nfi"}, "b\n", 0},
		{"and or", []string{`true && echo a || echo b`, `false && echo a || echo b`}, "a\nb\n", 0},
		{"negation", []string{`! false && echo negated`}, "negated\n", 0},
		{"negated last line fails the job", []string{`! true`}, "", 1},
		{"negation does not stop", []string{`! true; echo after`}, "after\n", 0},
		{"stop at first failing line", []string{`echo one`, `false`, `echo never`}, "one\n", 1},
		{"stop inside a line", []string{`echo a; false; echo b`}, "a\n", 1},
		{"failure status is kept", []string{`sh -c 'exit 3' || true`, `ls missing-file`}, "[simulated] sh -c 'exit 3'\nls: cannot access 'missing-file': No such file or directory\n", 2},
		{"and list does not stop the script", []string{`false && echo no`, `echo yes`}, "yes\n", 0},
		{"and list on the last line fails", []string{`false && echo no`}, "", 1},
		{"exit", []string{`echo a; exit 7; echo b`, `echo c`}, "a\n", 7},
		{"exit without argument", []string{`false || exit`}, "", 1},
		{"exit 0 stops successfully", []string{`exit 0`, `false`}, "", 0},
		{"exit in subshell", []string{`(exit 0); echo continued`}, "continued\n", 0},
		{"failing subshell stops", []string{`(exit 3)`, `echo never`}, "", 3},
		{"failure inside if body stops", []string{`if true; then false; echo no; fi`}, "", 1},
		{"set +e", []string{`set +e`, `false`, `echo continued`}, "continued\n", 0},
		{"set -eo pipefail accepted", []string{`set -euxo pipefail`, `echo ok`}, "ok\n", 0},
		{"pipefail", []string{`false | true`}, "", 1},
		{"without pipefail", []string{`set +o pipefail; false | true; echo ok`}, "ok\n", 0},
		{"for", []string{`for x in a "b c" d; do echo "<$x>"; done`}, "<a>\n<b c>\n<d>\n", 0},
		{"for multi-line", []string{"for x in 1 2\ndo\n  echo $x\ndone"}, "1\n2\n", 0},
		{"break continue", []string{`for x in 1 2 3 4; do if [ $x = 2 ]; then continue; fi; if [ $x = 4 ]; then break; fi; echo $x; done`}, "1\n3\n", 0},
		{"while", []string{`X=; while [ "$X" != aaa ]; do X=${X}a; done; echo $X`}, "aaa\n", 0},
		{"until", []string{`X=; until [ "$X" = aa ]; do X=${X}a; echo $X; done`}, "a\naa\n", 0},
		{"group", []string{`{ echo a; echo b; } | wc -l`}, "2\n", 0},
		{"simulated command", []string{`npm ci && npm test`}, "[simulated] npm ci\n[simulated] npm test\n", 0},
		{"simulated shows words as written", []string{`docker login -p "$SECRET" registry`}, "[simulated] docker login -p \"$SECRET\" registry\n", 0},
		{"arithmetic errors fail the command", []string{`echo $((1/0))`, `echo never`}, "shellsim: 1/0: division by 0\n", 1},
		{"bad substitution is fatal", []string{`echo ${UNDEFINED:?must be set}`, `echo never`}, "shellsim: UNDEFINED: must be set\n", 1},
		{"break outside a loop", []string{`break`, `echo ok`}, "ok\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace, code := run(t, Options{Env: map[string]string{"FOO": "bar", "SECRET": "s3cr3t"}}, tt.lines...)
			require.Equal(t, tt.code, code, trace)
			require.Equal(t, tt.want, output(trace))
			require.NotContains(t, trace, "s3cr3t")
		})
	}
}

func TestTests(t *testing.T) {
	tests := []struct {
		expr string
		code int
	}{
		{`[ -n "" ]`, 1},
		{`[ -n "x" ]`, 0},
		{`[ -z "" ]`, 0},
		{`[ -z "$FOO" ]`, 1},
		{`[ a = a ]`, 0},
		{`[ a == b ]`, 1},
		{`[ a != b ]`, 0},
		{`[ 1 -eq 01 ]`, 0},
		{`[ 1 -ne 2 ]`, 0},
		{`[ 2 -lt 10 ]`, 0},
		{`[ 10 -le 9 ]`, 1},
		{`[ 3 -gt 2 ]`, 0},
		{`[ 3 -ge 4 ]`, 1},
		{`[ ! -n "" ]`, 0},
		{`[ ! a = a ]`, 1},
		{`[ -n a -a -z "" ]`, 0},
		{`[ -z a -o -n b ]`, 0},
		{`[ -z a -o -n b -a -z c ]`, 1},
		{`[ \( a = a \) -a b ]`, 0},
		{`[ ]`, 1},
		{`[ x ]`, 0},
		{`[ "" ]`, 1},
		{`test -f file.txt`, 0},
		{`test -f dir`, 1},
		{`[ -d dir ]`, 0},
		{`[ -e nothing ]`, 1},
		{`[ -s file.txt ]`, 0},
		{`[ -s empty ]`, 1},
		{`[ a -eq 1 ]`, 2},
		{`[ a`, 2},
		{`[ -q x ]`, 2},
		{`[ -f /etc/passwd ]`, 2},
		{`[[ $FOO == b* ]]`, 0},
		{`[[ $FOO == "b*" ]]`, 1},
		{`[[ $FOO != b?r ]]`, 1},
		{`[[ -n $UNDEFINED ]]`, 1},
		{`[[ $FOO =~ ^b.r$ ]]`, 0},
		{`[[ $FOO =~ "b.r" ]]`, 1},
		{`[[ a < b && ! -z x ]]`, 0},
		{`[[ ( -f file.txt || -f nothing ) && -d dir ]]`, 0},
		{`[[ 10 -gt 9 ]]`, 0},
		{`[[ $SPACED == "a b" ]]`, 0},
		{`[[ x =~ ^(x|y)$ ]]`, 0},
		{`[[ a.b =~ a\.b ]]`, 0},
		{`[[ axb =~ a\.b ]]`, 1},
		{`[[ $FOO =~ [ ]]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			dir := t.TempDir()
			_, code := run(t, Options{Dir: dir}, `mkdir dir && echo x > file.txt && touch empty`)
			require.Equal(t, 0, code)
			trace, code := run(t, Options{Dir: dir, Env: map[string]string{"FOO": "bar", "SPACED": "a b"}}, tt.expr)
			require.Equal(t, tt.code, code, trace)
			if tt.code == 2 {
				require.NotEmpty(t, output(trace))
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		line, msg string
	}{
		{`if true; then echo x`, "expecting 'fi'"},
		{`echo "unterminated`, "unterminated quoted string"},
		{`echo 'unterminated`, "unterminated quoted string"},
		{`fi`, "unexpected token 'fi'"},
		{`echo a &`, "background jobs"},
		{`case x in esac`, "'case' is not supported"},
		{`echo $((1+2)`, "missing '))'"},
		{`f() { echo; }`, "function definitions are not supported"},
		{`A=(1 2)`, "arrays are not supported"},
		{`echo ${X/a/b}`, "bad substitution"},
		{`cat <<< x`, "here-strings"},
		{`; echo`, "unexpected token ';'"},
		{`echo a |`, "unexpected end of script"},
		{`echo >`, "expected a file name"},
		{`if then fi`, "syntax error"},
		{`for 1 in a; do echo; done`, "bad for loop variable"},
		{`[[ a == b`, "missing ']]'"},
		{`echo $(echo`, "missing ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			trace, code := run(t, Options{}, tt.line, `echo never`)
			require.Equal(t, 2, code, trace)
			require.Contains(t, trace, tt.msg)
			require.NotContains(t, trace, "never\n")
		})
	}
}

func TestEcho(t *testing.T) {
	trace, code := run(t, Options{}, "echo a\n", "if true\nthen echo b\nfi\n")
	require.Equal(t, 0, code)
	require.Equal(t, "$ echo a\na\n$ if true # collapsed multi-line command\nb\n", trace)
}
