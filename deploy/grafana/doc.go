// Package grafana holds surge-dashboard.json, a Grafana dashboard of a
// run's live metrics (scraped from coordinator run --metrics-listen or
// pushed with --push-remote-write), and the test that checks every query
// in it against the series the coordinator really exports.
package grafana
