package predict

import (
	"fmt"
	"math"
)

// An app slot is held for the whole request, including the time the
// request waits in the queues of the components it calls. The bottleneck
// bound, min over the stations of servers ÷ demand, leaves that waiting
// out: when the app's slots are few beside the downstream queueing (eight
// weeks' week 7: 14 slots in front of four 2-connection shards), the
// slots fill with waiting requests well before any station is busy, and
// the bound overstates the ceiling by a quarter. The app tier and what
// it calls are a closed network, its population the app's slots, and
// exact mean value analysis (MVA, with load-dependent multi-server
// stations) gives that network's throughput.

// predHeld is the closed loop of an app tier whose slots are held through
// the calls to the stations below it.
type predHeld struct {
	app   string    // the app's station name in the model
	slots int       // the app tier's slots: the population
	own   float64   // the app's own work per request, ms (a delay: each slot does its own)
	down  []predSub // the stations the request visits while holding its slot
}

// predSub is a station visited while the app slot is held: copies
// identical instances (shards), each with servers servers and a demand
// of demand ms per request of the mix (held), plus background ms of work
// per request that does not hold an app slot (the queue's workers'
// writes), which takes capacity from the held work.
type predSub struct {
	name       string // the station's name in the model ("db", "shard-*")
	servers    int
	copies     int
	demand     float64
	background float64
}

// predMaxPopulation bounds the MVA's population: O(N²) per station.
const predMaxPopulation = 4096

// throughput returns the closed loop's throughput in requests per second
// and each down station's utilisation at it (held and background work),
// solving the background load as a fixed point: its share of the
// stations' capacity depends on the throughput.
func (h predHeld) throughput() (float64, []float64) {
	n := min(h.slots, predMaxPopulation)
	x := 0.0
	util := make([]float64, len(h.down))
	for range 50 {
		st := make([]mvaStation, len(h.down))
		for i, d := range h.down {
			// The background work takes a share of each server; what is
			// left serves the held requests, slower by that share.
			bg := min(x*d.background/1000/float64(d.servers), 0.99)
			st[i] = mvaStation{demand: d.demand / (1 - bg), servers: d.servers, copies: d.copies}
		}
		next := mvaThroughput(n, h.own, st)
		if math.Abs(next-x) < 1e-6*max(next, 1) {
			x = next
			break
		}
		x = (x + next) / 2
	}
	for i, d := range h.down {
		util[i] = x * (d.demand + d.background) / 1000 / float64(d.servers)
	}
	return x, util
}

// mvaStation is a queueing station of the closed network: copies
// identical instances of servers servers, each with demand ms per
// request.
type mvaStation struct {
	demand  float64
	servers int
	copies  int
}

// mvaThroughput is exact MVA for n customers, a delay of z ms per cycle
// and the stations (load-dependent: a station of c servers serves j
// requests at rate min(j, c)), in requests per second.
func mvaThroughput(n int, z float64, st []mvaStation) float64 {
	if n <= 0 {
		return 0
	}
	// p[k][j]: the probability that an instance of station k holds j
	// customers, for the population just solved.
	p := make([][]float64, len(st))
	for k := range p {
		p[k] = make([]float64, n+1)
		p[k][0] = 1
	}
	x := 0.0
	next := make([]float64, n+1)
	for pop := 1; pop <= n; pop++ {
		r := z
		res := make([]float64, len(st))
		for k, s := range st {
			sum := 0.0
			for j := 1; j <= pop; j++ {
				sum += float64(j) / float64(min(j, s.servers)) * p[k][j-1]
			}
			res[k] = s.demand * sum
			r += res[k] * float64(s.copies)
		}
		if r <= 0 {
			return math.Inf(1)
		}
		x = float64(pop) / r // per ms
		for k, s := range st {
			total := 0.0
			for j := 1; j <= pop; j++ {
				next[j] = x * s.demand / float64(min(j, s.servers)) * p[k][j-1]
				total += next[j]
			}
			next[0] = max(0, 1-total)
			copy(p[k][:pop+1], next[:pop+1])
		}
	}
	return x * 1000
}

// predHeldMargin is how far below the bound the closed loop's throughput
// must be to replace it: within 5%, about MVA's own accuracy against the
// simulated components (exponential service assumed, log-normal played),
// the bound stands.
const predHeldMargin = 0.05

// predHeldBusy is how busy a down station must be, at the closed loop's
// throughput, to be named the bottleneck rather than the app: the
// components' /metrics then show it as loaded as the app's slots, as the
// staircase's replicas and sharding stages measure (replica-*, shard-*
// at 93–95% of their bound).
const predHeldBusy = 0.85

// apply lowers the ceiling to the closed loop's throughput when that is
// more than predHeldMargin below the bound's, and names the bottleneck: the most utilised
// down station when it is at least predHeldBusy busy there (the app's slots wait
// on it, but it is the wall), else the app (its slots are full of
// requests waiting their turn below, with no station saturated).
func (h predHeld) apply(ceiling float64, name, reason string) (float64, string, string) {
	if h.slots <= 0 || len(h.down) == 0 {
		return ceiling, name, reason
	}
	x, util := h.throughput()
	if !(x < ceiling*(1-predHeldMargin)) {
		return ceiling, name, reason
	}
	neck, top := h.app, 0.0
	for i, u := range util {
		if u > top {
			top = u
			if u >= predHeldBusy {
				neck = h.down[i].name
			}
		}
	}
	name = neck
	reason += fmt.Sprintf("; but %s's %d slots are held while the requests wait below (%s at most %s busy): exact MVA of that closed loop gives %s, limited by %s",
		h.app, h.slots, predGroupOf(h.down), predPct(top), predNum(x), name)
	return x, name, reason
}

// predGroupOf names the down stations: "db", or "shard-* and jobs".
func predGroupOf(down []predSub) string {
	s := ""
	for i, d := range down {
		if i > 0 {
			s += ", "
		}
		s += d.name
	}
	return s
}
