package shellsim

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// safeEntryName validates a zip entry name against zip-slip: it must be a
// relative path that stays below the extraction directory once cleaned.
func safeEntryName(name string) (string, bool) {
	n := strings.ReplaceAll(name, `\`, "/")
	if n == "" || path.IsAbs(n) || strings.ContainsRune(n, 0) || (len(n) > 1 && n[1] == ':') {
		return "", false
	}
	clean := path.Clean(n)
	if clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
		return "", false
	}
	return clean, true
}

// builtinUnzip extracts a zip archive: unzip [-oqnlj] ARCHIVE [MEMBER...]
// [-d DIR]. Archives with an entry that would land outside the extraction
// directory (zip-slip) are refused before anything is written; symbolic
// links in archives are skipped; extraction counts against the workspace
// write budget, which defuses zip bombs.
func builtinUnzip(c *call) (int, error) {
	opts, args, err := getopt(c.args, "oqnljuaCXv", "d", nil)
	if err != nil {
		return c.fail(10, "%s", err), nil
	}
	if len(args) == 0 {
		return c.fail(10, "missing archive operand"), nil
	}
	quiet := has(opts, "q")
	name, members := args[0], args[1:]
	rel, ok := c.path(name)
	if !ok {
		return 9, nil
	}
	if _, err := c.sh.ws.root.Stat(rel); errors.Is(err, fs.ErrNotExist) && !strings.HasSuffix(name, ".zip") {
		rel += ".zip"
	}
	f, err := c.sh.ws.open(rel)
	if err != nil {
		return c.fail(9, "cannot find or open %s: %s", name, describe(err)), nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c.fail(9, "cannot find or open %s: %s", name, describe(err)), nil
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return c.fail(9, "cannot find zipfile directory in %s: %s", name, err), nil
	}
	dest := c.sh.cwd
	if d, ok := opts['d']; ok {
		if dest, ok = c.path(d); !ok {
			return 1, nil
		}
	}
	// Validate every entry before writing anything.
	names := make([]string, len(zr.File))
	for i, zf := range zr.File {
		n, ok := safeEntryName(zf.Name)
		if !ok {
			return c.fail(1, "refusing to extract %s: entry %q would be written outside the extraction directory (zip-slip)", name, zf.Name), nil
		}
		if has(opts, "j") {
			n = path.Base(n)
		}
		names[i] = n
	}
	if has(opts, "l") {
		var total uint64
		fmt.Fprintf(c.out, "Archive:  %s\n  Length      Date    Time    Name\n---------  ---------- -----   ----\n", name)
		for _, zf := range zr.File {
			fmt.Fprintf(c.out, "%9d  %s   %s\n", zf.UncompressedSize64, zf.Modified.Format("2006-01-02 15:04"), zf.Name)
			total += zf.UncompressedSize64
		}
		fmt.Fprintf(c.out, "---------                     -------\n%9d                     %d files\n", total, len(zr.File))
		return 0, nil
	}
	if !quiet {
		fmt.Fprintf(c.out, "Archive:  %s\n", name)
	}
	if err := c.sh.ws.mkdirAll(dest); err != nil {
		return c.fail(1, "cannot create extraction directory %s: %s", dest, describe(err)), nil
	}
	st := 0
	for i, zf := range zr.File {
		if len(members) > 0 && !c.sh.matchesAny(members, zf.Name) {
			continue
		}
		to := path.Join(dest, names[i])
		mode := zf.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			c.errorf("skipping symbolic link %s", zf.Name)
			continue
		case zf.FileInfo().IsDir():
			if err := c.sh.ws.mkdirAll(to); err != nil {
				st = c.fail(1, "cannot create %s: %s", names[i], describe(err))
				continue
			}
			if !quiet && !has(opts, "j") {
				fmt.Fprintf(c.out, "   creating: %s/\n", strings.TrimPrefix(path.Join(dest, names[i]), "./"))
			}
			continue
		}
		if _, err := c.sh.ws.root.Lstat(to); err == nil && !has(opts, "o") {
			if !has(opts, "n") {
				c.errorf("not overwriting existing file %s (use -o)", names[i])
			}
			continue
		}
		if err := c.sh.ws.mkdirAll(path.Dir(to)); err != nil {
			st = c.fail(1, "cannot create %s: %s", path.Dir(names[i]), describe(err))
			continue
		}
		if err := c.sh.extract(zf, to, mode.Perm()|0o600); err != nil {
			if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
				return 1, ctxErr
			}
			st = c.fail(2, "error extracting %s: %s", names[i], describe(err))
			if errors.Is(err, errWorkspaceFull) || errors.Is(err, errTooManyFiles) {
				return st, nil
			}
			continue
		}
		if !quiet {
			fmt.Fprintf(c.out, "  inflating: %s\n", strings.TrimPrefix(to, "./"))
		}
	}
	return st, nil
}

func (sh *shell) matchesAny(patterns []string, name string) bool {
	m := sh.matcher()
	for _, p := range patterns {
		if m.match(p, name) {
			return true
		}
	}
	return false
}

func (sh *shell) extract(zf *zip.File, to string, perm fs.FileMode) error {
	r, err := zf.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := sh.ws.create(to, false, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, ctxReader{ctx: sh.ctx, r: r})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// builtinZip creates a zip archive: zip [-rqj] ARCHIVE PATH....
func builtinZip(c *call) (int, error) {
	opts, args, err := getopt(c.args, "rqjy0123456789", "", nil)
	if err != nil {
		return c.fail(16, "%s", err), nil
	}
	if len(args) < 2 {
		return c.fail(12, "zip error: Nothing to do!"), nil
	}
	name := args[0]
	if path.Ext(name) == "" {
		name += ".zip"
	}
	rel, ok := c.path(name)
	if !ok {
		return 15, nil
	}
	type item struct{ rel, arc string }
	var items []item
	for _, a := range args[1:] {
		r, ok := c.path(a)
		if !ok {
			return 18, nil
		}
		fi, err := c.sh.ws.root.Stat(r)
		if err != nil {
			c.errorf("warning: name not matched: %s", a)
			continue
		}
		arc := strings.TrimPrefix(path.Clean(a), "/")
		if !fi.IsDir() {
			if has(opts, "j") {
				arc = path.Base(arc)
			}
			items = append(items, item{r, arc})
			continue
		}
		if !has(opts, "r") {
			items = append(items, item{r, arc + "/"})
			continue
		}
		err = fs.WalkDir(c.sh.ws.root.FS(), r, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			a := path.Join(arc, strings.TrimPrefix(p, r))
			if d.IsDir() {
				if !has(opts, "j") {
					items = append(items, item{p, a + "/"})
				}
			} else if d.Type().IsRegular() && p != rel {
				if has(opts, "j") {
					a = path.Base(a)
				}
				items = append(items, item{p, a})
			}
			return nil
		})
		if err != nil {
			return c.fail(18, "%s: %s", a, describe(err)), nil
		}
	}
	if len(items) == 0 {
		return c.fail(12, "zip error: Nothing to do! (%s)", name), nil
	}
	w, err := c.sh.ws.create(rel, false, 0o644)
	if err != nil {
		return c.fail(15, "could not create %s: %s", name, describe(err)), nil
	}
	defer w.Close()
	zw := zip.NewWriter(w)
	for _, it := range items {
		if err := c.sh.ctx.Err(); err != nil {
			return 1, err
		}
		if strings.HasSuffix(it.arc, "/") {
			if _, err := zw.Create(it.arc); err != nil {
				return c.fail(15, "%s", describe(err)), nil
			}
			continue
		}
		if err := c.sh.addToZip(zw, it.rel, it.arc); err != nil {
			if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
				return 1, ctxErr
			}
			return c.fail(15, "%s: %s", it.arc, describe(err)), nil
		}
		if !has(opts, "q") {
			fmt.Fprintf(c.out, "  adding: %s\n", it.arc)
		}
	}
	if err := zw.Close(); err != nil {
		return c.fail(15, "%s", describe(err)), nil
	}
	return 0, nil
}

func (sh *shell) addToZip(zw *zip.Writer, rel, arc string) error {
	f, err := sh.ws.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	hdr.Name = arc
	hdr.Method = zip.Deflate
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, ctxReader{ctx: sh.ctx, r: f})
	return err
}
