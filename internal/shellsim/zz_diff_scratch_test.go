package shellsim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestScratchDiff(t *testing.T) {
	scripts := []string{
		`X="a b  c"; for w in $X; do echo "[$w]"; done`,
		`echo "${X:-"q r"}" ${X:-'s t'} ${X:-u\ v}`,
		`A=x; echo ${A:+"$A y"} "${A:+$A z}"`,
		`echo a"b"'c'd\e`,
		`echo "a\b\$c\"d\\e"`,
		`echo 'it'\''s'`,
		`P=/a/b.tar.gz; echo ${P##*/} ${P%.*} ${P%%.*} ${P#/} ${P#*.}`,
		`printf '%s\n' "$(printf 'x\n\n\n')" end`,
		`echo $(echo "a   b")`,
		`echo "$(echo "a   b")"`,
		`X=1; { X=2; }; echo $X; (X=3); echo $X`,
		`true | false; echo $?`,
		`false | true; echo $?`,
		`set +e; false; echo $?; ! false; echo $?`,
		`if false; then :; fi; echo $?`,
		`for i in; do echo x; done; echo done`,
		`echo -n; echo -e 'x\x41\0101y'; echo -E 'a\tb'`,
		`printf '%5s|%-5s|%.2s|%c\n' ab cd efgh ijk`,
		`printf '%d %i %o %x %X %e\n' 42 -7 8 255 255 1234.5`,
		`printf 'no newline'; echo`,
		`printf '%s %s\n' a b c`,
		`printf '%b\n' 'a\tb'`,
		`echo ${#}; echo "$0" >/dev/null`,
		`X=abc; echo ${#X} ${X%c}`,
		`[ "a" \< "b" ] && echo lt`,
		`test 1 -eq 1 -a 2 -gt 1 && echo y`,
		`[[ abc == a?c ]] && echo glob; [[ abc == "a?c" ]] || echo literal`,
		`[[ x =~ ^(x|y)$ ]] && echo re`,
		`cat <<E | wc -l
a
b
E`,
		`echo a; # comment; echo b`,
		`X='$HOME'; echo "$X" $X`,
		`echo \\`,
		"echo `echo a` \"`echo b c`\"",
		`Y=$(false); echo $?`,
		`unset Q; echo ${Q-unset} ${Q:-empty}; Q=; echo ${Q-unset} "${Q:-empty}"`,
		`echo a > f; echo b >> f; cat f; wc -l < f; wc -c f`,
		`echo x | tee g; cat g`,
		`mkdir -p d/e; touch d/e/f d/g; ls d; ls -a d | head -2`,
		`echo *; echo d/*`,
		`basename a/b/; dirname a; dirname /a; dirname a/b/`,
		`printf 'a\nb\nc\n' | grep -n b; printf 'A\n' | grep -i a; printf 'a\n' | grep -c z; echo $?`,
		`echo 'x+y' | grep 'x+y'; echo xxy | grep -E 'x+y'`,
		`printf '1\n2\n3\n' | tail -n +2`,
		`V=1 env | grep '^V='`,
		`f=1; while [ $f != 111 ]; do f=${f}1; done; echo $f`,
		`for a in 1 2; do for b in x y; do if [ $b = y ]; then continue 2; fi; echo $a$b; done; done`,
		`echo ${U:=dflt}; echo $U`,
		`x=5; echo ${x:-$(echo no)}`,
		`echo "${x}"'${x}'`,
		`a=1 b=2; echo $a$b`,
		`echo {a,b} ~`,
		`echo $$ >/dev/null; echo ok`,
		`false || { echo recovered; true; }`,
		`echo "a
b"`,
		`if [ -z "" ]
then
  echo multi
fi`,
		`export E1=1; printenv E1; env | grep -c '^E1='`,
		`readonly R=1; echo $R`,
		`echo -- -n`,
		`echo "tab	in"`,
		`IFSX=":"; echo a:b`,
		`echo $(( 1 ))` ,
	}
	for i, s := range scripts {
		dir := t.TempDir()
		cmd := exec.Command("bash", "-c", "set -eo pipefail\n"+s)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		want, err := cmd.CombinedOutput()
		wantCode := 0
		if ee, ok := err.(*exec.ExitError); ok {
			wantCode = ee.ExitCode()
		}
		var buf bytes.Buffer
		code, _ := Run(context.Background(), []string{s}, Options{Dir: t.TempDir(), Stdout: &buf})
		_ = i
		got := output(buf.String())
		if got != string(want) || code != wantCode {
			fmt.Printf("=== %s\n--- bash (%d):\n%s--- sim (%d):\n%s\n", s, wantCode, want, code, got)
		}
		_ = strings.TrimSpace
	}
}
