// Package shellsim runs the before_script and script lines of a GitLab CI
// job in a small POSIX-shell simulator, for the service's simulated runner.
//
// Scripts come from users' .gitlab-ci.yml files, so they are untrusted
// input. The simulator never starts a process: the commands it knows are
// implemented in Go, and every other command (make, npm, docker, go, ...) is
// simulated — it prints "[simulated] <command as written>", takes
// [Options.SimulatedDuration] and succeeds, or fails with probability
// [Options.FailureRate]. Files are only read and written inside the job's
// workspace ([Options.Dir]), through an [os.Root]; everything else is
// bounded: the trace ([Options.MaxOutput]), bytes and files written to the
// workspace ([Options.MaxWorkspaceBytes], 100,000 entries), HTTP bodies
// ([Options.MaxResponseBytes]), the size of words, variables, pipes and
// command substitutions, and the nesting of commands. Waiting (sleep,
// simulated commands, HTTP) and loops honour the context given to [Run],
// which is how a job timeout stops a script such as "while true; do :; done".
//
// # Execution model
//
// [Run] behaves like GitLab's runner with a bash-like shell: each line is
// echoed as "$ <line>" (a multi-line YAML block shows its first line followed
// by "# collapsed multi-line command"), then parsed and run in the same
// shell, so variables, the working directory and $? carry over from line to
// line. The shell starts with `set -eo pipefail`: a failing command stops
// the script with its status unless it is a condition (if, elif, while,
// until), a non-final part of an && / || list, or negated with "!" — so
// `false && echo x` does not stop the script, exactly as in GitLab.
// `set +e` and `set +o pipefail` are honoured; command substitutions do not
// inherit -e, as in bash. A line with a syntax error
// stops the script with status 2 and a message in the trace.
//
// # Language
//
// Words with '...', "...", backslash escapes and line continuations; $VAR,
// ${VAR}, ${#VAR}, ${VAR:-w} ${VAR-w} ${VAR:=w} ${VAR:+w} ${VAR:?w},
// ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p}, $?, $(...) and `...`, integer
// arithmetic $((...)) without assignments; NAME=value and NAME+=value; field
// splitting of unquoted expansions on blanks; pathname expansion (*, ?,
// [...]) inside the workspace; "#" comments. Lists with ";", newlines, "&&",
// "||", "!" and pipelines "|"; if/elif/else/fi, for/in/do/done,
// while/until, break/continue, { ...; } and ( ... ); bash's [[ ... ]] with
// pattern (==, !=) and regular-expression (=~) matching; here-documents
// (<<, <<-, quoted delimiters). Redirections >, >>, <, 2>&1, >&2, &>, with
// /dev/null, /dev/stdout and /dev/stderr.
//
// Pipelines run their stages one after the other, each in a subshell, the
// output of a stage (up to 16 MiB) becoming the input of the next; this is
// indistinguishable from concurrent stages for the builtins here.
//
// A path that leads out of the workspace — "..", an absolute path
// elsewhere, a symbolic link — is an error with a message ("path is outside
// the job's workspace"), never a silent "no such file"; test and [ report it
// with status 2, other commands with their usual error status.
//
// Builtins: echo, printf, true, false, :, exit, sleep, export, readonly,
// unset, set, env, printenv, eval, test and [, cd, pwd, mkdir, touch, cat,
// rm, ls, cp, mv, chmod, grep, wc, head, tail, tee, basename, dirname, unzip,
// zip, curl and wget. curl performs real HTTP requests through
// [Options.HTTPClient] with the options GitLab's documentation and CI
// scripts use (-X, -F, -H, -d, --data-raw, --data-binary, --data-urlencode,
// --json, -G, -T, -u, -f, --fail-with-body, -L, -o, -O, --create-dirs, -s,
// -S, -w, -m, -k, -i, -I; short options combine, as in -fsSL); its exit
// statuses and messages are curl's. A simulated
// command's line shows its words as written, before expansion, so that
// variables holding tokens do not end up in the trace.
//
// # Not supported
//
// case, functions, arrays, (( )) commands, background jobs (&),
// here-strings, brace expansion {a,b}, tilde expansion, ${VAR/x/y} and
// substring forms, positional parameters ($1, "$@": always empty), custom
// IFS, and curl URL globbing. Unsupported syntax is a syntax error (status
// 2) whose message names the construct. curl accepts --retry and similar
// options but does not retry.
package shellsim
