package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/triggerd/triggerd/test/loadresult"
)

// renderReport writes docs/BENCHMARKS.md from the figures of one run.
func renderReport(c config, figs []figure) string {
	by := map[string]*loadresult.Result{}
	for _, f := range figs {
		by[f.Key] = f.Result
	}
	a := by["a"].AcceptedPerSecond
	ratio := func(v float64) string {
		if a == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v/a)
	}
	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Benchmarks\n\n")
	w("Written by `make bench` (test/bench) on %s. Every figure below comes from that one run, on %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	w("Nothing here is edited by hand: run `make bench` again to replace it.\n\n")

	w("## Summary\n\n")
	w("| | figure | measured | ratio to (a) | target | met |\n|---|---|---|---|---|---|\n")
	w("| a | ceiling: a handler that only publishes to JetStream and answers | %s/s, p99 %s | 1.00 | – | – |\n",
		num(a), ms(by["a"].Latency.P99))
	bb := by["b"]
	w("| b | ingress accept rate, `async=true`, the dispatcher stopped meanwhile (the backlog drains after) | %s/s accepted, p99 %s | %s | ≥ 8,000/s | %s |\n",
		num(bb.AcceptedPerSecond), ms(bb.Latency.P99), ratio(bb.AcceptedPerSecond), met(bb.AcceptedPerSecond >= 8000))
	if b2 := by["b2"]; b2 != nil {
		w("| b2 | the same with the dispatcher creating the pipelines at the same time, on the same two cores | %s/s accepted, p99 %s | %s | – | – |\n",
			num(b2.AcceptedPerSecond), ms(b2.Latency.P99), ratio(b2.AcceptedPerSecond))
	}
	cc := by["c"]
	w("| c | end-to-end synchronous 201 path for %s, pipelines of 3 jobs with 2 variables | %s pipelines/s, p99 %s | %s | ≥ 5,000/s and ≥ 0.5 × (a) | %s |\n",
		dur(cc.Seconds), num(cc.AcceptedPerSecond), ms(cc.Latency.P99), ratio(cc.AcceptedPerSecond),
		met(cc.AcceptedPerSecond >= 5000 && a > 0 && cc.AcceptedPerSecond/a >= 0.5))
	dd := by["d"]
	after := ""
	if d2 := by["d2"]; d2 != nil {
		after = fmt.Sprintf("; right after (c), not settled: p50 %s, p99 %s", ms(d2.Latency.P50), ms(d2.Latency.P99))
	}
	w("| d | latency at 50%% of (c): open loop at %s/s | p50 %s, p95 %s, p99 %s%s | – | p99 ≤ 50 ms | %s |\n",
		num(dd.OfferedRate), ms(dd.Latency.P50), ms(dd.Latency.P95), ms(dd.Latency.P99), after, met(dd.Latency.P99 <= 50))
	e1, e2 := by["e1"], by["e2"]
	w("| e | one vs two dispatcher processes, synchronous | %s/s vs %s/s (× %.2f) | %s / %s | – | – |\n",
		num(e1.AcceptedPerSecond), num(e2.AcceptedPerSecond), e2.AcceptedPerSecond/max(1, e1.AcceptedPerSecond),
		ratio(e1.AcceptedPerSecond), ratio(e2.AcceptedPerSecond))
	if f := by["f"]; f.Burst != nil {
		fb := f.Burst
		w("| f | schedule burst: %s schedules over %d projects due at one minute, ordinary triggers at %s/s | all %s pipelines exist %.2f s after the minute; ordinary p99 during it %s | – | ≤ 5 s; p99 < 50 ms | %s |\n",
			num(float64(fb.Schedules)), fb.Projects, num(f.OfferedRate), num(float64(fb.Pipelines)), fb.AllExistSeconds,
			ms(fb.DuringBurst.P99), met(fb.Complete && fb.AllExistSeconds <= 5 && fb.DuringBurst.P99 < 50 && fb.Duplicates == 0))
	}

	w("\n## Every run\n\n")
	w("| run | load | s | answered | statuses | accepted/s | p50 | p95 | p99 | max | pipelines visible | end-to-end |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range figs {
		r := f.Result
		load := fmt.Sprintf("closed, %d workers", r.Concurrency)
		if r.Mode == "open" {
			load = fmt.Sprintf("open, %s/s", num(r.OfferedRate))
		}
		vis, e2e := "–", "–"
		if r.E2E != nil {
			vis = fmt.Sprintf("%d of %d, %d jobs each", r.E2E.Visible, r.E2E.Expected, r.E2E.JobsOfLatest)
			e2e = fmt.Sprintf("%s/s over %s", num(r.E2E.PerSecond), dur(r.E2E.Seconds))
		}
		w("| %s %s | %s | %.0f | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Key, f.Name, load, r.Seconds, r.Answered,
			statuses(r.Statuses, r.Errors), num(r.AcceptedPerSecond), ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99),
			ms(r.Latency.Max), vis, e2e)
	}
	if f := by["f"]; f.Burst != nil {
		fb := f.Burst
		w("\nThe burst (f): %d schedule pipelines for %d schedules (%d slots fired twice); the first was created %.2f s and the last %.2f s after the minute, and all were visible %.2f s after it. Ordinary triggers sent between the minute and that moment: %d, p50 %s, p99 %s, max %s, %d not 2xx.\n",
			fb.Pipelines, fb.Schedules, fb.Duplicates, fb.FirstSeconds, fb.LastSeconds, fb.AllExistSeconds,
			fb.DuringBurst.Count, ms(fb.DuringBurst.P50), ms(fb.DuringBurst.P99), ms(fb.DuringBurst.Max), fb.DuringBurstNon2x)
	}

	w("\n## How it is measured\n\n")
	w(`- One machine holds everything: Postgres, the ingress with its embedded NATS server (as `+"`make run`"+` starts it), the
  dispatchers, the ceiling handler and the load tool (test/load), which competes with them for the same cores.
  No runner-sim is attached: the figures are about turning triggers into stored pipelines with their jobs, not
  about running the jobs.
- The database is created afresh for the run; the NATS store is emptied.
- Every run starts settled: `+"`sync`"+`, a Postgres `+"`CHECKPOINT`"+`, `+"`sync`"+`, so that what the run before wrote
  is on disk and its writeback does not land in this run. (d2) is the exception, to show what that writeback
  does: the same open loop as (d), started the moment (c) ends.
- Throughput runs are closed loop with keep-alive connections: %d workers for (a) and (b), %d for the
  synchronous runs (c) and (e). A synchronous answer takes a batch cycle or two, so a closed loop's rate is
  its workers over that latency (Little's law): with 128 workers (c) measured the workers' patience, not
  what the service sustains. (d) is open loop at a fixed offered rate, its latency counted from when each
  request was due, so a stall of the server shows up in full. (d) and (d2) start with %v of the same load
  over the same connections, left out of their figures: a load tool starting cold opens its connections
  and meets caches and connection pools still empty, and on this machine that first quarter second at
  1,776/s had 262-445 of its 445 requests over 50 ms and up to 670 ms. That is 1.25%% of a 20 s run, more
  than the 1%% that p99 leaves out, so a cold start alone decided the percentile.
- Percentiles come from HDR histograms (github.com/HdrHistogram/hdrhistogram-go), three significant figures.
- Every trigger carries a unique Idempotency-Key and is sent as GitLab's documented `+"`curl --form`"+` (multipart
  form: token, ref, variables). The ceiling (a) gets the same requests and only publishes them.
- (c) counts a pipeline when its 201 arrives: the dispatcher answers only after the pipeline, its variables and its
  jobs are committed, and the tool checks afterwards that every promised pipeline is listed by the API with its jobs.
- (b) counts 202s. It measures what one ingress accepts: the dispatcher is stopped while the load runs, as if it
  ran on another machine (on this one it would take the same two cores), and started two seconds after; the
  events wait durably in JetStream meanwhile. "End-to-end" is the time from the first request until the
  dispatcher had stored every accepted pipeline. For this run the ingress's queue-depth backpressure
  (`+"`INGRESS_MAX_QUEUE_DEPTH`"+`) is raised to 1,000,000 so that the backlog is not refused at 100,000.
  (b2) is the same load with the dispatcher draining at the same time on the same cores.
- (f) creates the schedules through the API, due at a whole minute at least 75 s ahead, and reads the
  pipelines table from the minute on, every 100 ms and every 20 ms once 95%% exist (each read costs Postgres
  about 20 ms of CPU near the end, so reading every 20 ms throughout slowed the burst it measured); ordinary
  triggers run from five seconds before the minute.
`, c.Concurrency, c.SyncConcurrency, c.Warmup)

	w("\n## Where the time goes\n\n")
	w(`What profiling (pprof on each binary's METRICS_ADDR) and sampling pg_stat_activity showed while these
figures were made, and what follows from it:

- Everything shares two cores. During (c) the ingress with its embedded NATS server takes the largest
  share, then Postgres, then the dispatcher and the load tool itself about equally.
- Hot rows were the first limit: every batch bumped its projects' iid counters and touched its trigger
  tokens inside its transaction, so concurrent batches of the same projects ran one after another (most
  active sessions waited on Lock:transactionid). Batches now take iids in single statements outside their
  transaction, on a pool whose commits do not wait for their own WAL flush (docs/DECISIONS.md explains why
  that is safe); the remaining waits are on those short statements.
- The synchronous path costs more than the async one by the dispatcher's transaction and the reply: a
  batch takes four round trips to Postgres whatever its size (BEGIN with every read the events need, the
  pipelines' ids and iids, the pipelines with their variables and jobs, COMMIT), and each commit is a WAL
  flush. The dispatcher answers with the pipeline already rendered as the API shows it, which the ingress
  writes as it is.
- In Postgres, a pipeline of three jobs and two variables is six rows and seventeen index entries.
  Foreign keys on them made Postgres look up and lock a parent row for each of seven of those rows, a
  third of its CPU per pipeline; a batch now locks its projects and users once and deletes cascade by
  triggers (docs/DECISIONS.md). What is left is mostly the inserts themselves: at saturation, of a batch's
  time in statements, the jobs' insert took 42%%, the pipelines' 32%%, the commit 8%% and the variables' 7%%.
- A batch loop takes whatever has arrived, so batches grow with the load. One loop alone was busy 99%% of
  the time at saturation while a third of the cores idled on its round trips; loops that all take from the
  queue split light load into small transactions that contend for the same cores and WAL flushes. So a
  second loop joins only while half a batch waits (` + "`DISPATCHER_BATCHES=2`" + `): light load sees one loop,
  saturation two. Replies go out right after the commit; publishing the jobs and acking run while the next
  batch is decided.
- Garbage collection took about a seventh of the dispatcher's CPU at Go's default; every binary runs with
  GOGC=400 unless told otherwise, which the ceiling handler and the load tool share.
- A second dispatcher process on the same two cores shares the same CPU: what it adds in (e) comes from
  overlapping one process's database waits with the other's work, not from more capacity, and it costs
  latency. Dispatchers scale out across machines; (e) is here to show the effect on one.
- (d) runs at half of (c)'s rate, yet the machine is 80-90%% busy there: a pipeline costs about twice the
  CPU it costs at saturation (outside this run, all processes together: 743 µs at 2,371/s against 382 µs at
  4,723/s on an Intel Xeon; on an AMD EPYC, the ingress alone 372 µs at 1,776/s against about 195 µs at 4,000/s).
  Below saturation the first batch loop would still turn all the time, in batches of a few events, each
  paying the same round trips and statements; ` + "`DISPATCHER_BATCH_INTERVAL`" + ` (10 ms) makes it wait
  for more after a small batch, which cut the dispatcher's and Postgres's CPU by 12-23%% at 700-2,000/s.
  Every process's wake-ups are still shared by fewer requests than at saturation, and at that utilisation
  the machine's stalls (tenths of a second every few seconds here, with 4-12 runnable threads on two
  cores) decide the tail. Right after a heavy run the disk adds to it: the kernel writes back what
  that run left in its page cache (Postgres's data files, the NATS store), and a commit's WAL flush waits
  behind it, up to 280 ms on this machine. At 770/s, p99 was 151-203 ms right after 60 s of (c) and 36-39 ms
  settled first. (d2) shows it in this run. On a server, a smaller ` + "`vm.dirty_background_bytes`" + ` is
  the usual way to spread that writeback out (not measured here).
- During the burst (f) the schedule slots are consumed apart from ordinary triggers (their own subject and
  durable consumer), so no ordinary trigger queues behind ten thousand slots; what ordinary triggers still
  share with the burst is the CPU and Postgres, which the burst saturates. ` + "`DISPATCHER_SCHEDULE_BATCHES`" + `
  and ` + "`DISPATCHER_SCHEDULE_BATCH_SIZE`" + ` set how much of the machine the burst takes: fewer and smaller
  batches lower ordinary latency and lengthen the burst (docs/DECISIONS.md has the measurements).
`)
	return b.String()
}

func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	n := len(s)
	if n <= 3 || v < 0 {
		return s
	}
	var out []byte
	for i := range n {
		if i > 0 && (n-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func dur(s float64) string { return fmt.Sprintf("%.0f s", s) }

func statuses(m map[string]int64, errs int64) string {
	var parts []string
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%s×%d", code, n))
	}
	sort.Strings(parts)
	if errs > 0 {
		parts = append(parts, fmt.Sprintf("errors×%d", errs))
	}
	return strings.Join(parts, ", ")
}
