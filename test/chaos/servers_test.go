package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/test/harness"
)

// natsBinary is the NATS server the suite runs as a process of its own.
const natsBinary = "/usr/sbin/nats-server"

// natsServer is a nats-server process with JetStream, on a fixed port and
// store directory, so that a restart brings back the same server.
type natsServer struct {
	t    *testing.T
	port int
	dir  string
	proc *harness.Proc
	// track shows the output of each incarnation when the test fails.
	track func(*harness.Proc)
}

func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	if _, err := os.Stat(natsBinary); err != nil {
		t.Fatalf("the NATS restart case needs %s (apt-get install nats-server): %v", natsBinary, err)
	}
	n := &natsServer{t: t, port: harness.FreePort(t), dir: t.TempDir(), track: func(*harness.Proc) {}}
	n.start()
	t.Cleanup(func() { n.proc.Stop(10 * time.Second) })
	return n
}

// URL is the client URL.
func (n *natsServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *natsServer) start() {
	n.t.Helper()
	n.proc = startUntilReady(n.t, "nats-server", func() *exec.Cmd {
		return exec.Command(natsBinary, "-js", "-sd", n.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port))
	}, func(p *harness.Proc) bool { return waitTCP(p, n.port, 10*time.Second) })
	n.track(n.proc)
}

// restart kills the server with SIGKILL and starts it again on the same
// port and store, after down.
func (n *natsServer) restart(down time.Duration) {
	n.proc.Kill()
	time.Sleep(down) // the outage itself, not a synchronisation
	n.start()
}

// embeddedNATS is a NATS server inside the test process, restartable on the
// same port and store.
type embeddedNATS struct {
	t    *testing.T
	addr string
	dir  string
	srv  *broker.Embedded
}

func startEmbeddedNATS(t *testing.T) *embeddedNATS {
	t.Helper()
	e := &embeddedNATS{t: t, addr: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), dir: t.TempDir()}
	e.start()
	t.Cleanup(func() { e.srv.Shutdown() })
	return e
}

func (e *embeddedNATS) URL() string { return "nats://" + e.addr }

func (e *embeddedNATS) start() {
	e.t.Helper()
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.srv, err = broker.StartEmbedded(e.addr, e.dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("embedded NATS did not come back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restart shuts the server down and starts it again after down.
func (e *embeddedNATS) restart(down time.Duration) {
	e.srv.Shutdown()
	time.Sleep(down) // the outage itself
	e.start()
}

// pgServer is a private Postgres cluster, initialised for the test in a
// temporary directory and run as the postgres user, so that it can be
// killed without touching the machine's shared server.
type pgServer struct {
	t     *testing.T
	bin   string
	dir   string
	port  int
	cred  *syscall.Credential
	proc  *harness.Proc
	track func(*harness.Proc)
}

// pgBin holds initdb and postgres.
const pgBin = "/usr/lib/postgresql/15/bin"

func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("the Postgres restart case needs PostgreSQL 15's server binaries in %s: %v", pgBin, err)
	}
	pg := &pgServer{t: t, bin: pgBin, port: harness.FreePort(t), track: func(*harness.Proc) {}}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "the private Postgres runs as the postgres user")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	root, err := os.MkdirTemp("", "triggerd-chaos-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	pg.dir = filepath.Join(root, "data")
	if pg.cred != nil {
		require.NoError(t, os.Chown(root, int(pg.cred.Uid), int(pg.cred.Gid)))
	}
	initdb := pg.command(filepath.Join(pg.bin, "initdb"), "-D", pg.dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	pg.start()
	t.Cleanup(func() { pg.proc.Stop(30 * time.Second) })
	return pg
}

func (pg *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

// URL is the server's postgres database.
func (pg *pgServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func (pg *pgServer) start() {
	pg.t.Helper()
	pg.proc = startUntilReady(pg.t, "postgres", func() *exec.Cmd {
		return pg.command(filepath.Join(pg.bin, "postgres"), "-D", pg.dir,
			"-p", strconv.Itoa(pg.port), "-k", filepath.Dir(pg.dir), "-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=300")
	}, func(p *harness.Proc) bool { return pg.ready(p, 30*time.Second) })
	pg.track(pg.proc)
}

func (pg *pgServer) ready(p *harness.Proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !p.Exited() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, pg.URL())
		cancel()
		if err == nil {
			_ = c.Close(context.Background())
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// crash kills the postmaster with SIGKILL, as a machine's OOM killer would,
// waits down, and starts it again: the server runs crash recovery.
func (pg *pgServer) crash(down time.Duration) {
	pg.proc.Kill()
	time.Sleep(down) // the outage itself
	pg.start()
}

// startUntilReady starts a server and returns it once ready says it
// serves, starting it again for up to a minute when it exits or does not
// get ready: right after a kill, the port (or, for Postgres, the shared
// memory of the old backends) may still be held.
func startUntilReady(t *testing.T, name string, cmd func() *exec.Cmd, ready func(*harness.Proc) bool) *harness.Proc {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := harness.StartProc(name, cmd())
		require.NoError(t, err)
		if ready(p) {
			return p
		}
		p.Kill()
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", name, p.Output())
		}
	}
}

// waitTCP waits until something accepts connections on port, or p exits.
func waitTCP(p *harness.Proc, port int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !p.Exited() {
		if c, err := netDialer.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			_ = c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

var netDialer = &net.Dialer{Timeout: time.Second}
