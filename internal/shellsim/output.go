package shellsim

import (
	"bytes"
	"context"
	"errors"
	"io"
)

// truncatedLine is written once when the trace reaches Options.MaxOutput.
const truncatedLine = "[output truncated]\n"

// errOutputLimit is returned by writes into a pipe or a command
// substitution whose buffer is full.
var errOutputLimit = errors.New("output limit exceeded")

// traceWriter caps the trace. It never fails: a script keeps running when
// its output is dropped, as a GitLab job does when its log is full. The
// first error of the underlying writer is kept for Run to report.
type traceWriter struct {
	w         io.Writer
	limit     int64
	n         int64
	truncated bool
	lastNL    bool
	err       error
}

func (t *traceWriter) Write(p []byte) (int, error) {
	if t.truncated || t.err != nil || len(p) == 0 {
		return len(p), nil
	}
	if room := t.limit - t.n; int64(len(p)) > room {
		t.write(p[:room])
		msg := truncatedLine
		if t.n > 0 && !t.lastNL {
			msg = "\n" + msg
		}
		t.write([]byte(msg))
		t.truncated = true
		return len(p), nil
	}
	t.write(p)
	return len(p), nil
}

// room is how many more bytes the trace takes before truncating.
func (t *traceWriter) room() int64 {
	if t.truncated {
		return 0
	}
	return t.limit - t.n
}

func (t *traceWriter) write(p []byte) {
	if len(p) == 0 || t.err != nil {
		return
	}
	if _, err := t.w.Write(p); err != nil {
		t.err = err
		return
	}
	t.n += int64(len(p))
	t.lastNL = p[len(p)-1] == '\n'
}

// cappedBuffer collects the output of a pipeline stage or a command
// substitution up to a limit.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:room])
		return room, errOutputLimit
	}
	return b.buf.Write(p)
}

// trackWriter remembers the first write error, so that a builtin's failure
// to write (a full disk budget, a full pipe) becomes its exit status.
type trackWriter struct {
	w   io.Writer
	err error
}

func (t *trackWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}

// ctxReader stops long copies (cat of a large file, extraction, uploads)
// when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
