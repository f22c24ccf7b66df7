// Package probe samples a bundled target's Prometheus /metrics while a
// stage plays, and reads from the samples each component's load (exact
// utilisation from busy-seconds where exported), the most loaded one, and
// the caches' hit rate. Its one goroutine runs from Start to Stop.
package probe
