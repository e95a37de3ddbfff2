package runner

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The runner's metrics, process-wide as the registry that serves them is.
var (
	jobsRun = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_runner_jobs_total",
		Help: "Jobs run to their end and reported, by final status (success, failed, canceled).",
	}, []string{"status"})
	jobsByStatus = map[string]prometheus.Counter{
		"success":  jobsRun.WithLabelValues("success"),
		"failed":   jobsRun.WithLabelValues("failed"),
		"canceled": jobsRun.WithLabelValues("canceled"),
	}
	jobDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "triggerd_runner_job_duration_seconds",
		Help:    "Time from a job's claim being granted to its result being reported, by final status.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"status"})
	durationByStatus = map[string]prometheus.Observer{
		"success":  jobDuration.WithLabelValues("success"),
		"failed":   jobDuration.WithLabelValues("failed"),
		"canceled": jobDuration.WithLabelValues("canceled"),
	}
)

// countJob counts a job reported with status after seconds.
func countJob(status string, seconds float64) {
	if c, ok := jobsByStatus[status]; ok {
		c.Inc()
		durationByStatus[status].Observe(seconds)
	}
}
