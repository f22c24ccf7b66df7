// Package livemetrics exports a run as it plays on a Prometheus /metrics
// endpoint: merged counters by outcome and error class, response-time
// histograms by stage and request, agents alive and send lag. Observe
// and SetAlive are safe for concurrent use with the scrapes; a nil
// *Exporter ignores them, so a run without metrics needs no checks.
package livemetrics
