package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// consumerCollector reads JetStream consumers' backlogs at scrape time.
type consumerCollector struct {
	consumers  []jetstream.Consumer
	timeout    time.Duration
	pending    *prometheus.Desc
	ackPending *prometheus.Desc
	redeliver  *prometheus.Desc
	up         *prometheus.Desc
}

// NewConsumerCollector reports each consumer's pending, ack-pending and
// redelivered message counts as gauges, labelled with the stream and
// consumer names. It asks the server for the consumer's info when scraped,
// each ask bounded by timeout, and at no other time: nothing is polled
// while nobody scrapes, and no request pays for it. A consumer whose info
// cannot be read then reports only triggerd_jetstream_consumer_up 0.
//
// Every process consuming a durable consumer reports the same numbers for
// it: aggregate with max, not sum.
func NewConsumerCollector(timeout time.Duration, consumers ...jetstream.Consumer) prometheus.Collector {
	labels := []string{"stream", "consumer"}
	return &consumerCollector{
		consumers: consumers,
		timeout:   timeout,
		pending: prometheus.NewDesc("triggerd_jetstream_consumer_pending_messages",
			"Messages in the stream that the consumer has not delivered yet.", labels, nil),
		ackPending: prometheus.NewDesc("triggerd_jetstream_consumer_ack_pending_messages",
			"Messages delivered and not yet acknowledged.", labels, nil),
		redeliver: prometheus.NewDesc("triggerd_jetstream_consumer_redelivered_messages",
			"Messages delivered more than once and not yet acknowledged.", labels, nil),
		up: prometheus.NewDesc("triggerd_jetstream_consumer_up",
			"1 when the consumer's info was read at this scrape, 0 when it could not be.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redeliver
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cons := range c.consumers {
		cached := cons.CachedInfo()
		stream, name := cached.Stream, cached.Name
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		info, err := cons.Info(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, stream, name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1, stream, name)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), stream, name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), stream, name)
		ch <- prometheus.MustNewConstMetric(c.redeliver, prometheus.GaugeValue, float64(info.NumRedelivered), stream, name)
	}
}
