// Package metricdef holds the names and help texts of the metrics every
// target component exports, so that a bottleneck finder can compare
// components and so that they can share one registry: Prometheus refuses
// to register one metric name with two help texts.
//
// It holds constants and two stateless functions; Register is as safe for
// concurrent use as the prometheus.Registerer it is given.
package metricdef
