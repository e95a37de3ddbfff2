package shellsim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// getopt splits args into options and operands, GNU style: options may
// follow operands, "--" ends them, short options combine ("-rf"). boolFlags
// are the letters without a value, valueFlags those with one; long maps
// long options to their letter.
func getopt(args []string, boolFlags, valueFlags string, long map[string]byte) (map[byte]string, []string, error) {
	opts := map[byte]string{}
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return opts, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			f, ok := long[name]
			if !ok {
				return nil, nil, fmt.Errorf("unrecognized option '%s'", a)
			}
			if strings.IndexByte(valueFlags, f) >= 0 && !hasValue {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option '%s' requires an argument", a)
				}
				i++
				value = args[i]
			}
			opts[f] = value
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				f := a[j]
				switch {
				case strings.IndexByte(boolFlags, f) >= 0:
					opts[f] = ""
				case strings.IndexByte(valueFlags, f) >= 0:
					v := a[j+1:]
					if v == "" {
						if i+1 >= len(args) {
							return nil, nil, fmt.Errorf("option requires an argument -- '%c'", f)
						}
						i++
						v = args[i]
					}
					opts[f] = v
					j = len(a)
				default:
					return nil, nil, fmt.Errorf("invalid option -- '%c'", f)
				}
			}
		default:
			operands = append(operands, a)
		}
	}
	return opts, operands, nil
}

func has(opts map[byte]string, flags string) bool {
	for i := 0; i < len(flags); i++ {
		if _, ok := opts[flags[i]]; ok {
			return true
		}
	}
	return false
}

// path resolves an operand, reporting failures as "name: p: reason".
func (c *call) path(p string) (string, bool) {
	rel, err := c.sh.ws.resolve(c.sh.cwd, p)
	if err != nil {
		c.errorf("%s: %s", p, describe(err))
		return "", false
	}
	return rel, true
}

func builtinCd(c *call) (int, error) {
	sh := c.sh
	target := "."
	if len(c.args) > 0 {
		target = c.args[len(c.args)-1]
	}
	if len(c.args) == 0 {
		target = sh.ws.dir
	}
	if target == "-" {
		target = sh.vars["OLDPWD"]
		if target == "" {
			return c.fail(1, "OLDPWD not set"), nil
		}
	}
	rel, ok := c.path(target)
	if !ok {
		return 1, nil
	}
	fi, err := sh.ws.root.Stat(rel)
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return c.fail(1, "%s: %s", target, describe(err)), nil
	}
	_ = sh.setVar("OLDPWD", sh.ws.display(sh.cwd))
	sh.cwd = rel
	_ = sh.setVar("PWD", sh.ws.display(rel))
	return 0, nil
}

func builtinPwd(c *call) (int, error) {
	fmt.Fprintln(c.out, c.sh.ws.display(c.sh.cwd))
	return 0, nil
}

func builtinMkdir(c *call) (int, error) {
	opts, args, err := getopt(c.args, "pv", "m", map[string]byte{"parents": 'p', "verbose": 'v', "mode": 'm'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if len(args) == 0 {
		return c.fail(1, "missing operand"), nil
	}
	st := 0
	for _, a := range args {
		rel, ok := c.path(a)
		if !ok {
			st = 1
			continue
		}
		if has(opts, "p") {
			err = c.sh.ws.mkdirAll(rel)
		} else if err = c.sh.ws.noteCreate(rel); err == nil {
			err = c.sh.ws.root.Mkdir(rel, 0o755)
		}
		if err != nil {
			st = c.fail(1, "cannot create directory '%s': %s", a, describe(err))
			continue
		}
		if has(opts, "v") {
			fmt.Fprintf(c.out, "mkdir: created directory '%s'\n", a)
		}
	}
	return st, nil
}

func builtinTouch(c *call) (int, error) {
	opts, args, err := getopt(c.args, "acmhf", "dtr", map[string]byte{"no-create": 'c', "date": 'd', "reference": 'r'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if len(args) == 0 {
		return c.fail(1, "missing file operand"), nil
	}
	st := 0
	now := time.Now()
	for _, a := range args {
		rel, ok := c.path(a)
		if !ok {
			st = 1
			continue
		}
		if _, err := c.sh.ws.root.Stat(rel); errors.Is(err, fs.ErrNotExist) {
			if has(opts, "c") {
				continue
			}
			w, err := c.sh.ws.create(rel, true, 0o644)
			if err != nil {
				st = c.fail(1, "cannot touch '%s': %s", a, describe(err))
				continue
			}
			w.Close()
		}
		if err := c.sh.ws.root.Chtimes(rel, now, now); err != nil {
			st = c.fail(1, "cannot touch '%s': %s", a, describe(err))
		}
	}
	return st, nil
}

// input opens an operand for reading: "-" is stdin.
func (c *call) input(p string) (io.Reader, func(), bool) {
	switch p {
	case "-", "/dev/stdin":
		return c.in, func() {}, true
	case "/dev/null":
		return strings.NewReader(""), func() {}, true
	}
	rel, ok := c.path(p)
	if !ok {
		return nil, nil, false
	}
	f, err := c.sh.ws.open(rel)
	if err != nil {
		c.errorf("%s: %s", p, describe(err))
		return nil, nil, false
	}
	return ctxReader{ctx: c.sh.ctx, r: f}, func() { f.Close() }, true
}

func builtinCat(c *call) (int, error) {
	_, args, err := getopt(c.args, "uvetnAbsET", "", nil)
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if len(args) == 0 {
		args = []string{"-"}
	}
	st := 0
	for _, a := range args {
		r, done, ok := c.input(a)
		if !ok {
			st = 1
			continue
		}
		_, err := io.Copy(c.out, r)
		done()
		if err := c.sh.ctx.Err(); err != nil {
			return 1, err
		}
		if err != nil {
			return c.fail(1, "%s: %s", a, describe(err)), nil
		}
	}
	return st, nil
}

func builtinRm(c *call) (int, error) {
	opts, args, err := getopt(c.args, "rRfidv", "", map[string]byte{"recursive": 'r', "force": 'f', "dir": 'd', "verbose": 'v', "interactive": 'i'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	force := has(opts, "f")
	if len(args) == 0 && !force {
		return c.fail(1, "missing operand"), nil
	}
	st := 0
	for _, a := range args {
		rel, ok := c.path(a)
		if !ok {
			st = 1
			continue
		}
		if rel == "." || path.Base(a) == "." || path.Base(a) == ".." {
			st = c.fail(1, "refusing to remove '.' or '..' directory: skipping '%s'", a)
			continue
		}
		fi, err := c.sh.ws.root.Lstat(rel)
		if err != nil {
			if !force || !errors.Is(err, fs.ErrNotExist) {
				st = c.fail(1, "cannot remove '%s': %s", a, describe(err))
			}
			continue
		}
		switch {
		case fi.IsDir() && has(opts, "rR"):
			err = c.sh.ws.root.RemoveAll(rel)
		case fi.IsDir() && !has(opts, "d"):
			err = syscall.EISDIR
		default:
			err = c.sh.ws.root.Remove(rel)
		}
		if err != nil {
			st = c.fail(1, "cannot remove '%s': %s", a, describe(err))
		}
	}
	return st, nil
}

func builtinLs(c *call) (int, error) {
	opts, args, err := getopt(c.args, "aAl1hdFRtrSs", "", map[string]byte{"all": 'a', "almost-all": 'A', "directory": 'd', "human-readable": 'h'})
	if err != nil {
		return c.fail(2, "%s", err), nil
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	long := has(opts, "l")
	line := func(name string, fi fs.FileInfo) {
		if !long {
			fmt.Fprintln(c.out, name)
			return
		}
		fmt.Fprintf(c.out, "%s %9d %s %s\n", fi.Mode(), fi.Size(), fi.ModTime().Format("Jan _2 15:04"), name)
	}
	st := 0
	var dirs []string
	for _, a := range args {
		rel, ok := c.path(a)
		if !ok {
			st = 2
			continue
		}
		fi, err := c.sh.ws.root.Stat(rel)
		if err != nil {
			st = c.fail(2, "cannot access '%s': %s", a, describe(err))
			continue
		}
		if fi.IsDir() && !has(opts, "d") {
			dirs = append(dirs, a)
			continue
		}
		line(a, fi)
	}
	for i, a := range dirs {
		if len(args) > 1 {
			if i > 0 || len(dirs) < len(args) {
				fmt.Fprintln(c.out)
			}
			fmt.Fprintf(c.out, "%s:\n", a)
		}
		rel, _ := c.sh.ws.resolve(c.sh.cwd, a)
		entries, err := c.sh.ws.readDir(rel)
		if err != nil {
			st = c.fail(2, "cannot open directory '%s': %s", a, describe(err))
			continue
		}
		if has(opts, "a") {
			for _, dot := range []string{".", ".."} {
				fi, _ := c.sh.ws.root.Stat(rel)
				line(dot, fi)
			}
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") && !has(opts, "aA") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			line(e.Name(), fi)
		}
	}
	return st, nil
}

// copyFile copies one regular file inside the workspace.
func (sh *shell) copyFile(src, dst string) error {
	in, err := sh.ws.open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := sh.ws.create(dst, false, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, ctxReader{ctx: sh.ctx, r: in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// target returns where src goes when copied or moved to dst: into dst if
// it is a directory.
func (c *call) target(src, dst string, many bool) (string, bool) {
	rel, ok := c.path(dst)
	if !ok {
		return "", false
	}
	if fi, err := c.sh.ws.root.Stat(rel); err == nil && fi.IsDir() {
		return path.Join(rel, path.Base(strings.TrimRight(src, "/"))), true
	}
	if many {
		c.errorf("target '%s' is not a directory", dst)
		return "", false
	}
	return rel, true
}

func builtinCp(c *call) (int, error) {
	opts, args, err := getopt(c.args, "rRafpvnLPdu", "", map[string]byte{"recursive": 'r', "archive": 'a', "force": 'f', "verbose": 'v', "no-clobber": 'n'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if len(args) < 2 {
		return c.fail(1, "missing destination file operand"), nil
	}
	dst := args[len(args)-1]
	st := 0
	for _, src := range args[:len(args)-1] {
		srel, ok := c.path(src)
		if !ok {
			st = 1
			continue
		}
		drel, ok := c.target(src, dst, len(args) > 2)
		if !ok {
			return 1, nil
		}
		fi, err := c.sh.ws.root.Stat(srel)
		if err != nil {
			st = c.fail(1, "cannot stat '%s': %s", src, describe(err))
			continue
		}
		if !fi.IsDir() {
			if err := c.sh.copyFile(srel, drel); err != nil {
				if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
					return 1, ctxErr
				}
				st = c.fail(1, "cannot copy '%s': %s", src, describe(err))
			}
			continue
		}
		if !has(opts, "rRa") {
			st = c.fail(1, "-r not specified; omitting directory '%s'", src)
			continue
		}
		if drel == srel || strings.HasPrefix(drel, srel+"/") || srel == "." {
			st = c.fail(1, "cannot copy a directory, '%s', into itself", src)
			continue
		}
		if err := c.sh.copyTree(srel, drel); err != nil {
			if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
				return 1, ctxErr
			}
			st = c.fail(1, "cannot copy '%s': %s", src, describe(err))
		}
	}
	return st, nil
}

func (sh *shell) copyTree(src, dst string) error {
	return fs.WalkDir(sh.ws.root.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := sh.ctx.Err(); err != nil {
			return err
		}
		to := path.Join(dst, strings.TrimPrefix(p, src))
		switch {
		case d.IsDir():
			return sh.ws.mkdirAll(to)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := sh.ws.root.Readlink(p)
			if err != nil {
				return err
			}
			if err := sh.ws.noteCreate(to); err != nil {
				return err
			}
			return sh.ws.root.Symlink(link, to)
		case d.Type().IsRegular():
			return sh.copyFile(p, to)
		}
		return nil // devices, sockets: skipped
	})
}

func builtinMv(c *call) (int, error) {
	_, args, err := getopt(c.args, "fivnuT", "", map[string]byte{"force": 'f', "verbose": 'v', "no-clobber": 'n'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if len(args) < 2 {
		return c.fail(1, "missing destination file operand"), nil
	}
	dst := args[len(args)-1]
	st := 0
	for _, src := range args[:len(args)-1] {
		srel, ok := c.path(src)
		if !ok {
			st = 1
			continue
		}
		if srel == "." {
			st = c.fail(1, "cannot move '%s': Device or resource busy", src)
			continue
		}
		drel, ok := c.target(src, dst, len(args) > 2)
		if !ok {
			return 1, nil
		}
		if err := c.sh.ws.root.Rename(srel, drel); err != nil {
			st = c.fail(1, "cannot move '%s' to '%s': %s", src, dst, describe(err))
		}
	}
	return st, nil
}

func builtinChmod(c *call) (int, error) {
	var recursive bool
	var args []string
	for _, a := range c.args {
		if a == "-R" || a == "--recursive" {
			recursive = true
			continue
		}
		if a == "-v" || a == "-f" || a == "-c" {
			continue
		}
		args = append(args, a)
	}
	if len(args) < 2 {
		return c.fail(1, "missing operand"), nil
	}
	mode := args[0]
	st := 0
	apply := func(rel, name string) error {
		fi, err := c.sh.ws.root.Stat(rel)
		if err != nil {
			return err
		}
		m, err := parseMode(mode, fi.Mode().Perm(), fi.IsDir())
		if err != nil {
			return err
		}
		return c.sh.ws.root.Chmod(rel, m)
	}
	for _, a := range args[1:] {
		rel, ok := c.path(a)
		if !ok {
			st = 1
			continue
		}
		var err error
		if recursive {
			err = fs.WalkDir(c.sh.ws.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.Type()&fs.ModeSymlink != 0 {
					return err
				}
				return apply(p, p)
			})
		} else {
			err = apply(rel, a)
		}
		if err != nil {
			st = c.fail(1, "cannot change permissions of '%s': %s", a, describe(err))
		}
	}
	return st, nil
}

// parseMode applies an octal or symbolic ("u+x,go-w", "+x", "a=rX") mode
// to cur.
func parseMode(mode string, cur fs.FileMode, dir bool) (fs.FileMode, error) {
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return fs.FileMode(n) & fs.ModePerm, nil
	}
	m := cur
	for _, clause := range strings.Split(mode, ",") {
		i := 0
		var who fs.FileMode
		for ; i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0; i++ {
			who |= map[byte]fs.FileMode{'u': 0o700, 'g': 0o070, 'o': 0o007, 'a': 0o777}[clause[i]]
		}
		if who == 0 {
			who = 0o777
		}
		if i >= len(clause) {
			return 0, fmt.Errorf("invalid mode: '%s'", mode)
		}
		for i < len(clause) {
			op := clause[i]
			if op != '+' && op != '-' && op != '=' {
				return 0, fmt.Errorf("invalid mode: '%s'", mode)
			}
			i++
			var bits fs.FileMode
			for ; i < len(clause) && strings.IndexByte("rwxX", clause[i]) >= 0; i++ {
				switch clause[i] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if dir || m&0o111 != 0 {
						bits |= 0o111
					}
				}
			}
			bits &= who
			switch op {
			case '+':
				m |= bits
			case '-':
				m &^= bits
			case '=':
				m = m&^who | bits
			}
		}
	}
	return m, nil
}
