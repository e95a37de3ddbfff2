package relay

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// publishDuration is how long JetStream takes to acknowledge a trigger
// event: the part of a trigger's answer that makes it durable.
var publishDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "triggerd_ingress_publish_duration_seconds",
	Help:    "Time for JetStream to acknowledge a trigger event, by result (stored, duplicate, error).",
	Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
}, []string{"result"})

// Pre-resolved children: a publish costs an atomic add, not a label lookup.
var (
	publishStored    = publishDuration.WithLabelValues("stored")
	publishDuplicate = publishDuration.WithLabelValues("duplicate")
	publishFailed    = publishDuration.WithLabelValues("error")
)
