package worker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The dispatcher's metrics of trigger events. They are process-wide, as the
// registry that serves them is; label children are resolved here, once, so
// that counting costs an atomic add.
var (
	pipelinesCreated = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_dispatcher_pipelines_created_total",
		Help: "Pipelines created from trigger events, by source (trigger, pipeline, schedule).",
	}, []string{"source"})
	createdBySource = map[string]prometheus.Counter{
		"trigger":  pipelinesCreated.WithLabelValues("trigger"),
		"pipeline": pipelinesCreated.WithLabelValues("pipeline"),
		"schedule": pipelinesCreated.WithLabelValues("schedule"),
	}
	createdOther = pipelinesCreated.WithLabelValues("other")

	eventsDecided = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_dispatcher_trigger_events_total",
		Help: "Trigger events decided and acknowledged, by outcome: created (a new pipeline), rejected " +
			"(a GitLab error answered), duplicate (decided before: a redelivery or a repeated event).",
	}, []string{"outcome"})
	decidedCreated   = eventsDecided.WithLabelValues("created")
	decidedRejected  = eventsDecided.WithLabelValues("rejected")
	decidedDuplicate = eventsDecided.WithLabelValues("duplicate")

	batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "triggerd_dispatcher_batch_size",
		Help:    "Trigger events handed to one batch decision.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 … 512
	})
	batchDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "triggerd_dispatcher_batch_duration_seconds",
		Help: "Time spent on one batch of trigger events, by stage: decide (its transactions, commits included, " +
			"and the replies to the ingresses) and follow_up (publish the jobs, ack).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"stage"})
	decideDuration   = batchDuration.WithLabelValues("decide")
	followUpDuration = batchDuration.WithLabelValues("follow_up")

	redeliveries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "triggerd_dispatcher_trigger_redeliveries_total",
		Help: "Trigger events received with a delivery count above 1.",
	})

	retries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_dispatcher_trigger_retries_total",
		Help: "Trigger events given back for a later retry, by reason: error (deciding failed), " +
			"bridge_ref_missing (a bridge waits for its downstream ref), publish (follow-ups could not be published).",
	}, []string{"reason"})
	retryError     = retries.WithLabelValues("error")
	retryBridgeRef = retries.WithLabelValues("bridge_ref_missing")
	retryPublish   = retries.WithLabelValues("publish")
	deadLetters    = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "triggerd_dispatcher_dead_letters_total",
		Help: "Trigger events moved to the dead-letter stream, by reason: malformed, or exhausted (failed DISPATCHER_MAX_DELIVER times).",
	}, []string{"reason"})
	deadMalformed = deadLetters.WithLabelValues("malformed")
	deadExhausted = deadLetters.WithLabelValues("exhausted")
)

// countDecided counts an event decided and acknowledged, and the pipeline
// it created, if it created one.
func countDecided(source string, res result) {
	switch {
	case res.stored:
		decidedDuplicate.Inc()
	case res.pipelineID != 0:
		decidedCreated.Inc()
		if c, ok := createdBySource[source]; ok {
			c.Inc()
		} else {
			createdOther.Inc()
		}
	default:
		decidedRejected.Inc()
	}
}
