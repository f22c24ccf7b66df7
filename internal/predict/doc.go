// Package predict is the planning arithmetic applied to the bundled
// topologies: from a stage's topology config and the scenario's request
// mix it builds the queueing stations (servers and demand per request) and
// names the predicted ceiling and bottleneck (capacity.Bottleneck), so a
// run can set the measured ceiling beside the predicted one.
//
// It is pure: no goroutines, no clocks, no sockets.
package predict
