package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/triggerd/triggerd/test/harness"
)

// shortOpts are the settings of the short cases: quick redelivery of an
// event whose dispatcher died, and a quick 202 when the wait bound passes.
func shortOpts() harness.Opts {
	return harness.Opts{Dispatchers: 2, Runners: 1, AckWait: 2 * time.Second, TriggerWait: 3 * time.Second,
		Env: []string{"JOB_STUCK_AFTER=30s"}}
}

// TestDispatcherKilledMidBatch sends a burst of triggers to two
// dispatchers and kills one with SIGKILL as soon as the first pipeline of
// the burst is committed, while it holds a batch; a fresh one takes its
// place. A claim the killed one had committed but not answered is answered
// again by the other, so no job is left to the stuck-job check.
func TestDispatcherKilledMidBatch(t *testing.T) {
	t.Parallel()
	runCase(t, chaosCase{
		Name: "dispatcher killed mid-batch", Opts: shortOpts(), Rate: 20, Load: 2 * time.Second, Tail: 2 * time.Second, JobSleep: "0.05",
		NoStuckJobs: true,
		Fault: func(f *faultEnv) string {
			harness.Eventually(f.t, 2*time.Minute, "the first pipeline", func() bool {
				var n int
				_ = f.s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines`).Scan(&n)
				return n > 0
			})
			f.s.RestartDispatcher(0)
			return "1 kill -9 while deciding"
		},
	})
}

// TestEmbeddedNATSRestart restarts the NATS server (embedded in the test
// process, same port and store) under load. No runner dies, so no job may be
// left to the stuck-job check (JOB_STUCK_AFTER, 30 s here): a claim whose
// answer the restart lost is retried under its claim id and answered again,
// and results and log chunks are published again. The backlog must drain
// well before a stuck job would be failed.
func TestEmbeddedNATSRestart(t *testing.T) {
	t.Parallel()
	runCase(t, chaosCase{
		Name: "NATS restarted", Opts: shortOpts(), NATS: natsEmbedded, Rate: 8, Load: 3 * time.Second,
		FaultAt: time.Second, Tail: 2 * time.Second, JobSleep: "0.05", NoStuckJobs: true, DrainWithin: 20 * time.Second,
		Fault: func(f *faultEnv) string {
			f.emb.restart(time.Second)
			return "1 restart, 1 s down"
		},
	})
}
