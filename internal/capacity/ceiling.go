package capacity

import (
	"fmt"
	"slices"
	"strings"
)

// topologies are the bundled stages of the scaling staircase that Ceiling
// has a model for, in staircase order: the one place that lists them.
var topologies = []string{"single-box", "split", "cache", "lb", "replicas", "sharding", "queue", "multi-region", "cdn", "autoscale"}

// Topologies returns the names of the bundled stages Ceiling predicts, in
// staircase order.
func Topologies() []string {
	return slices.Clone(topologies)
}

// Ceiling predicts the sustained throughput ceiling, in req/s, of the
// named bundled stage built to the plan of in, and explains it in one
// line with the numbers substituted ("min(app 1 × 300 = 300, db … =
// 15,385): limited by app"). The models are listed in the package
// documentation; they are predictions to be checked by measurement.
//
// ok is false, with the reason saying why, for a topology without a model,
// for invalid inputs, and when an input the model needs is not given
// ("needs replica_read_rps").
func Ceiling(topology string, in Inputs) (ceiling float64, reason string, ok bool) {
	if !slices.Contains(topologies, topology) {
		return 0, fmt.Sprintf("no ceiling model for topology %q (known: %s)", topology, strings.Join(topologies, ", ")), false
	}
	if err := in.Validate(); err != nil {
		return 0, strings.ReplaceAll(err.Error(), "\n", "; "), false
	}
	_, fig := compute(in)
	m := &model{in: in, fig: fig}
	switch topology {
	case "single-box":
		m.sharedBox()
	case "split":
		m.app(false)
		m.database(false)
	case "cache":
		m.app(false)
		m.database(true)
	case "lb":
		m.app(true)
		m.database(true)
	case "replicas":
		m.app(true)
		m.replicas()
		m.primaries(false)
	case "sharding":
		m.app(true)
		m.replicas()
		m.primaries(true)
	case "cdn":
		// The origin (one app, one db) sees the reads that miss the edge
		// and every write: origin capacity ÷ (1 − h) for reads; the edge
		// serves every request.
		m.app(false)
		m.database(true)
		m.edge()
	case "autoscale":
		m.autoscaledApp()
		m.database(true)
	case "queue", "multi-region":
		m.app(true)
		m.replicas()
		m.primaries(true)
		m.queue()
	}
	if len(m.missing) > 0 {
		return 0, "needs " + strings.Join(m.missing, ", "), false
	}
	ceiling, reason = m.limit()
	if topology == "multi-region" {
		reason = "per region: " + reason
		if fig.hasPage {
			reason += fmt.Sprintf("; %d sequential calls × %s = %s of latency per page, not a throughput limit",
				in.CallsPerPage, millis(in.RegionRTT), millis(fig.pageLatency))
		}
	}
	return ceiling, reason, true
}

// Ceilings is Ceiling for each named topology (all of Topologies when
// none is named), as a plan to render beside the staircase: a step per
// predicted stage {topology, reason, ceiling, "req/s"}, and a note per
// stage without a prediction ("lb: needs daily_requests …"). The last
// note reminds the reader that these are predictions of a simple model.
func Ceilings(in Inputs, topology ...string) Plan {
	if len(topology) == 0 {
		topology = topologies
	}
	var p Plan
	for _, name := range topology {
		v, reason, ok := Ceiling(name, in)
		if !ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: %s", name, reason))
			continue
		}
		p.Steps = append(p.Steps, Step{Label: name, Working: reason, Value: v, Unit: "req/s"})
	}
	if len(p.Steps) > 0 {
		p.Notes = append(p.Notes, "ceilings are predictions of a simple model (see internal/capacity); check them by measurement")
	}
	return p
}

// term is one capacity limit of a stage, already expressed in requests
// per second of the whole mix.
type term struct {
	name, formula string
	value         float64
}

func (t term) String() string {
	return fmt.Sprintf("%s %s = %s", t.name, t.formula, FormatNumber(t.value))
}

// model collects the terms of one stage and the inputs it lacks.
type model struct {
	in      Inputs
	fig     figures
	terms   []term
	missing []string
}

// need records a missing input when ok is false, and returns ok.
func (m *model) need(ok bool, input string) bool {
	if !ok && !slices.Contains(m.missing, input) {
		m.missing = append(m.missing, input)
	}
	return ok
}

// readLoad is the share of requests that read the database: f, or f(1−h)
// behind a cache-aside cache, and its working.
func (m *model) readLoad(cached bool) (float64, string) {
	f, h := m.in.ReadFraction, m.in.CacheHitRate
	if !cached {
		return f, percent(f)
	}
	return f * (1 - h), fmt.Sprintf("%s × (1 − %s)", percent(f), percent(h))
}

// app is the app tier: one server, or the plan's N servers.
func (m *model) app(planned bool) {
	if !m.need(m.in.PerServerRPS > 0, "per_server_rps") {
		return
	}
	n := 1.0
	if planned {
		if !m.need(m.fig.hasServers, "daily_requests (to size the app servers)") {
			return
		}
		n = m.fig.servers
	}
	m.terms = append(m.terms, term{"app", fmt.Sprintf("%s × %s", workNumber(n), workNumber(m.in.PerServerRPS)), n * m.in.PerServerRPS})
}

// dbCost returns the parts of the database's cost per request, Σ load ÷
// capacity, as workings, and their sum: reads cost f(1−h) ÷ R, writes
// (1−f) ÷ W.
func (m *model) dbCost(cached bool) ([]string, float64) {
	var (
		parts []string
		cost  float64
	)
	if r, rw := m.readLoad(cached); r > 0 && m.need(m.in.ReplicaReadRPS > 0, "replica_read_rps") {
		parts = append(parts, fmt.Sprintf("%s ÷ %s", rw, workNumber(m.in.ReplicaReadRPS)))
		cost += r / m.in.ReplicaReadRPS
	}
	if w := 1 - m.in.ReadFraction; w > 0 && m.need(m.in.PrimaryWriteCeiling > 0, "primary_write_ceiling") {
		parts = append(parts, fmt.Sprintf("%s ÷ %s", percent(w), workNumber(m.in.PrimaryWriteCeiling)))
		cost += w / m.in.PrimaryWriteCeiling
	}
	return parts, cost
}

// database is one database serving reads and writes: its utilisation per
// request is the sum of the read and write costs, so it saturates at
// 1 ÷ that sum.
func (m *model) database(cached bool) {
	parts, cost := m.dbCost(cached)
	if cost > 0 {
		m.terms = append(m.terms, term{"db", fmt.Sprintf("1 ÷ (%s)", strings.Join(parts, " + ")), 1 / cost})
	}
}

// sharedBox is app and database on one machine: the app's cost 1 ÷ P and
// the database's costs add up on the same box.
func (m *model) sharedBox() {
	hasP := m.need(m.in.PerServerRPS > 0, "per_server_rps")
	parts, cost := m.dbCost(false)
	if !hasP {
		return
	}
	parts = append([]string{"1 ÷ " + workNumber(m.in.PerServerRPS)}, parts...)
	cost += 1 / m.in.PerServerRPS
	m.terms = append(m.terms, term{"shared box", fmt.Sprintf("1 ÷ (%s)", strings.Join(parts, " + ")), 1 / cost})
}

// replicas is the plan's K read replicas serving the reads that miss the
// cache: K·R ÷ f(1−h).
func (m *model) replicas() {
	r, rw := m.readLoad(true)
	if r == 0 || !m.need(m.in.ReplicaReadRPS > 0, "replica_read_rps") || !m.need(m.fig.hasReplicas, "daily_requests (to size the replicas)") {
		return
	}
	k := m.fig.replicas
	m.terms = append(m.terms, term{"replicas", fmt.Sprintf("%s × %s ÷ (%s)", workNumber(k), workNumber(m.in.ReplicaReadRPS), rw), k * m.in.ReplicaReadRPS / r})
}

// primaries is the write path: one primary, W ÷ (1−f), or the plan's S
// shards sharing the writes evenly, S·W ÷ (1−f).
func (m *model) primaries(sharded bool) {
	w := 1 - m.in.ReadFraction
	if w <= 0 || !m.need(m.in.PrimaryWriteCeiling > 0, "primary_write_ceiling") {
		return
	}
	if !sharded {
		m.terms = append(m.terms, term{"primary", fmt.Sprintf("%s ÷ %s", workNumber(m.in.PrimaryWriteCeiling), percent(w)), m.in.PrimaryWriteCeiling / w})
		return
	}
	if !m.need(m.fig.hasShards, "daily_requests (to size the shards)") {
		return
	}
	s := m.fig.shards
	m.terms = append(m.terms, term{"shards", fmt.Sprintf("%s × %s ÷ %s", workNumber(s), workNumber(m.in.PrimaryWriteCeiling), percent(w)), s * m.in.PrimaryWriteCeiling / w})
}

// queue is the workers doing the writes as jobs: μ ÷ (1−f) sustained.
func (m *model) queue() {
	w := 1 - m.in.ReadFraction
	if w <= 0 || !m.need(m.fig.hasQueue, "queue_workers and queue_job_time") {
		return
	}
	m.terms = append(m.terms, term{"workers", fmt.Sprintf("(%d ÷ %s) ÷ %s", m.in.QueueWorkers, seconds(m.in.QueueJobTime), percent(w)), m.fig.workersRate / w})
}

// edge is a CDN edge serving every request: E, when given.
func (m *model) edge() {
	if m.in.EdgeRPS > 0 {
		m.terms = append(m.terms, term{"edge", workNumber(m.in.EdgeRPS), m.in.EdgeRPS})
	}
}

// autoscaledApp is the app tier at its most instances: MaxInstances × P,
// or the plan's N servers when no maximum is given.
func (m *model) autoscaledApp() {
	if m.in.MaxInstances == 0 {
		m.app(true)
		return
	}
	if !m.need(m.in.PerServerRPS > 0, "per_server_rps") {
		return
	}
	n := float64(m.in.MaxInstances)
	m.terms = append(m.terms, term{"app", fmt.Sprintf("%s × %s (max instances)", workNumber(n), workNumber(m.in.PerServerRPS)), n * m.in.PerServerRPS})
}

// limit is the smallest term, and the working of the min. On a tie the
// first term in staircase order (app before database) is named.
func (m *model) limit() (float64, string) {
	best := m.terms[0]
	parts := make([]string, len(m.terms))
	for i, t := range m.terms {
		parts[i] = t.String()
		if t.value < best.value {
			best = t
		}
	}
	if len(m.terms) == 1 {
		return best.value, parts[0]
	}
	return best.value, fmt.Sprintf("min(%s): limited by %s", strings.Join(parts, ", "), best.name)
}
