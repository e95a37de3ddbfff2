package shellsim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzRun feeds arbitrary scripts to the interpreter without network
// access. Whatever the script, Run must not panic, must return soon after
// its context ends, and must report either an exit status or the context's
// error.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		`if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi`,
		`curl --request POST --form "token=$CI_JOB_TOKEN" --form ref=master https://gitlab.example.com/api/v4/projects/9/trigger/pipeline`,
		`curl --location --output artifacts.zip "https://gitlab.example.com/api/v4/projects/1/jobs/artifacts/master/download?job=test&job_token=$CI_JOB_TOKEN"`,
		`unzip artifacts.zip`,
		"if [ \"$A\" = b ]\nthen\n  echo x > f\nelif true; then cat f | wc -l; else exit 3; fi",
		`for x in a "b c" *; do echo "${x#a}" >> out; done; ls -la; rm -rf out`,
		`X=$(echo "$(printf '%s-%d' a 1)") && [[ $X == a-* ]] && echo ${#X}`,
		"cat <<EOF | grep -q b\na\nb\nEOF",
		`while false; do :; done; until true; do :; done; ! false`,
		`set +e; false; echo $?; (exit 4); { echo g; } 2>&1 >/dev/null`,
		`echo ${A:-${B:=c}} ${C:?x}`,
		"echo `echo \\`echo nested\\``",
		`mkdir -p a/b && cd a && cd .. && zip -qr z.zip a && unzip -o z.zip -d y`,
		`printf '%5.2f|%-4s|%x\n' 3.14159 ab 255; echo -e 'a\tb\c'`,
		`eval 'echo $((1))'; sleep 0.01`,
		`[ ( a ) ] || test ! -z "" -a 1 -lt 2 -o -f x`,
		`echo x > ../y; cat /etc/passwd; cd /; ln -s / l`,
	} {
		f.Add(seed)
	}
	client := &http.Client{Transport: failingTransport{}}
	f.Fuzz(func(t *testing.T, script string) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		var out strings.Builder
		start := time.Now()
		code, err := Run(ctx, []string{script, `echo done`}, Options{
			Dir:               t.TempDir(),
			Env:               map[string]string{"A": "b", "CI_JOB_TOKEN": "token"},
			Stdout:            &out,
			HTTPClient:        client,
			MaxOutput:         64 << 10,
			MaxWorkspaceBytes: 1 << 20,
		})
		require.Less(t, time.Since(start), 5*time.Second, "Run must stop soon after its context ends")
		if err != nil {
			require.True(t, errors.Is(err, context.DeadlineExceeded), "unexpected error %v", err)
			require.Equal(t, -1, code)
			return
		}
		require.GreaterOrEqual(t, code, 0)
		require.LessOrEqual(t, code, 255)
		require.LessOrEqual(t, out.Len(), 64<<10+len("\n"+truncatedLine))
	})
}
