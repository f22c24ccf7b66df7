package predict

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/lb"
	"github.com/surgeload/surge/targets/resource"
)

// Prediction is the planning arithmetic's ceiling of a bundled stage.
type Prediction struct {
	// CeilingRPS is the predicted sustained throughput, in requests per
	// second of the whole mix.
	CeilingRPS float64
	// Bottleneck names the limiting component as the target's /metrics
	// label component= names it ("box-cpu", "app", "db", "primary", …).
	// When N identical components share the limit it is a pattern that
	// names them all: "shard-*", "replica-*", "app-*" (path.Match syntax)
	// when they are every component of that name, or a brace list like
	// "app-{eu-west,ap-south}" when they are some of them; Components
	// lists them one by one.
	Bottleneck string
	// Components are the /metrics component names the Bottleneck stands
	// for: one, or each of N identical components.
	Components []string
	// Working is the one-line reason, numbers substituted, with the mix
	// assumptions: the request shares, the cache hit rate and where it
	// comes from, how the load spreads over regions, the min over the
	// components' ceilings (servers ÷ demand per request) and how the
	// limiting one's demand is made up.
	Working string
	// HitRate is the cache hit rate used, 0..1 (0 when the stage has no
	// cache).
	HitRate float64
}

// predDefaultHitRate is the cache hit rate assumed when neither the caller
// nor the scenario gives one: what keys drawn by {{zipf 1.1 100000}} (the
// bundled examples) give the default 1,000-entry cache (targets/doc.go).
const predDefaultHitRate = 0.66

// Stage predicts stage k of sc, a bundled stage. ok is false (no error) for a URL stage or
// "echo". hitRate >= 0 overrides the cache hit rate (the coordinator passes the hit rate it
// measured on the target's /metrics); hitRate < 0 means: sc.Capacity.CacheHitRate when the
// scenario gives one, else 0.66 (say "assumed" in Working).
//
// The prediction is the bottleneck analysis of capacity.Bottleneck over the
// components of the stage's default topology config (targets.DefaultConfig;
// scenarios do not override it), each with its servers (slots, pool
// connections, CPUs, workers) and its mean demand per request of the mix
// (visits × resource.Dist.Mean). The mix comes from the request weights:
// GET on a path starting "/items/" reads, POST /items writes at once, POST
// /jobs writes through the job queue in the queue topology (elsewhere at
// once), and anything else is the app's own work only. An app slot is held
// for the app's work plus everything downstream of it (cache misses, db
// queries, a write forwarded across regions with its round trip). When a
// request sets the X-Region header the load is assumed spread evenly over
// the regions, else it all goes to the primary region.
//
// The stations per topology, with r, w, j the shares of reads, POST /items
// and POST /jobs (w' = w + j outside the queue topology), h the hit rate
// (0 without a cache), a the app's mean service, R and W a database's mean
// read and write, T the regions' round trip, n regions with share s = 1/n
// each (s = 1 for the primary and 0 for the others without X-Region):
//
//	single-box    box-app slots, box-cpu CPUs: a + rR + w'W;  box-db pool: rR + w'W
//	split         app slots: a + rR + w'W;  db pool: rR + w'W
//	cache         app slots: a + r(1−h)R + w'W;  db pool: r(1−h)R + w'W
//	lb            app-* apps × slots (one app's slots with ip_hash): a + r(1−h)R + w'W;  db pool: r(1−h)R + w'W
//	replicas      app slots: a + r(1−h)R + w'W;  primary pool: w'W;  replica-* replicas × pool: r(1−h)R
//	sharding      app slots: a + r(1−h)R + w'W;  shard-* shards × pool: r(1−h)R + w'W
//	queue         app slots: a + r(1−h)R + wW;  shard-* shards × pool: r(1−h)R + (w+j)W;  jobs workers: jW
//	multi-region  app-primary slots: s(a + r(1−h)R + w'W);  passive apps (n−1) × slots: (n−1)s(a + r(1−h)R_rep + w'(W + T));
//	              db-primary pool: s·r(1−h)R + w'W;  replica-* (n−1) × pool: (n−1)s·r(1−h)R_rep
//
// and the ceiling is the smallest servers ÷ demand (capacity.Bottleneck).
func Stage(sc *scenario.Scenario, k int, hitRate float64) (p Prediction, ok bool, err error) {
	if sc == nil || k < 0 || k >= len(sc.Stages) {
		n := 0
		if sc != nil {
			n = len(sc.Stages)
		}
		return Prediction{}, false, fmt.Errorf("predict stage %d: the scenario has %d stage(s)", k, n)
	}
	st := sc.Stages[k]
	if st.Bundled == "" || st.Bundled == "echo" {
		return Prediction{}, false, nil
	}
	if math.IsNaN(hitRate) || hitRate > 1 {
		return Prediction{}, false, fmt.Errorf("predict stage %s: %w: cache hit rate %v, want 0..1 (or < 0 for the scenario's)", st.Name, capacity.ErrInvalid, hitRate)
	}
	h := predHitRateOf(sc, hitRate)
	cfg, err := targets.DefaultConfig(st.Bundled)
	if len(st.Options) > 0 && err == nil {
		// The stage's options, merged over the defaults as the run does.
		cfg, err = targets.DecodeConfig(st.Bundled, bytes.NewReader(st.Options))
	}
	if err != nil {
		return Prediction{}, false, fmt.Errorf("predict stage %s: %w", st.Name, err)
	}
	p, err = predictConfig(cfg, predMixOf(sc.Requests), h)
	if err != nil {
		return Prediction{}, false, fmt.Errorf("predict stage %s (%s): %w", st.Name, st.Bundled, err)
	}
	return p, true, nil
}

// predHitRate is a cache hit rate and where it comes from.
type predHitRate struct {
	value  float64
	source string // "measured", "capacity.cache_hit_rate", "assumed"
}

func predHitRateOf(sc *scenario.Scenario, given float64) predHitRate {
	switch {
	case given >= 0:
		return predHitRate{given, "measured"}
	case sc.Capacity != nil && sc.Capacity.CacheHitRate > 0:
		return predHitRate{float64(sc.Capacity.CacheHitRate), "capacity.cache_hit_rate"}
	}
	return predHitRate{predDefaultHitRate, "assumed"}
}

// predMix is the request mix as shares of the arrivals, summing to 1.
type predMix struct {
	read     float64 // GET /items/{id}
	write    float64 // POST /items
	job      float64 // POST /jobs
	other    float64 // anything else: the app's own work only
	regional bool    // some request names its region (X-Region)
	// zipf is the key popularity of the reads when every read path draws
	// its key by the same {{zipf s n}}: what an analytic hit rate needs.
	zipf *predZipf
}

// predZipf is a {{zipf s n}} key draw.
type predZipf struct {
	s    float64
	n    int
	text string
}

// predZipfRe matches a {{zipf s n}} template (n may use _ separators).
var predZipfRe = regexp.MustCompile(`\{\{\s*zipf\s+([0-9.]+)\s+([0-9_]+)\s*\}\}`)

// predZipfOf returns the zipf draw in path, if it has exactly one.
func predZipfOf(path string) (*predZipf, bool) {
	all := predZipfRe.FindAllStringSubmatch(path, -1)
	if len(all) != 1 {
		return nil, false
	}
	s, err1 := strconv.ParseFloat(all[0][1], 64)
	n, err2 := strconv.Atoi(strings.ReplaceAll(all[0][2], "_", ""))
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &predZipf{s: s, n: n, text: all[0][0]}, true
}

// predMixOf classifies the requests by their raw Path, weighted.
func predMixOf(reqs []scenario.Request) predMix {
	var m predMix
	var total float64
	zipfOK := true
	region := http.CanonicalHeaderKey("X-Region")
	for _, r := range reqs {
		w := r.Weight
		if w <= 0 {
			w = 1 // a Weight of 0 in a Scenario built in code means 1
		}
		total += w
		method := strings.ToUpper(r.Method)
		if method == "" {
			method = http.MethodGet
		}
		path, _, _ := strings.Cut(r.Path, "?")
		switch {
		case method == http.MethodGet && strings.HasPrefix(path, "/items/"):
			m.read += w
			z, ok := predZipfOf(path)
			switch {
			case !ok:
				zipfOK = false
			case m.zipf == nil:
				m.zipf = z
			case *m.zipf != *z:
				zipfOK = false
			}
		case method == http.MethodPost && path == "/items":
			m.write += w
		case method == http.MethodPost && path == "/jobs":
			m.job += w
		default:
			m.other += w
		}
		for name := range r.Headers {
			if http.CanonicalHeaderKey(name) == region {
				m.regional = true
			}
		}
	}
	if total > 0 {
		m.read, m.write, m.job, m.other = m.read/total, m.write/total, m.job/total, m.other/total
	}
	if !zipfOK {
		m.zipf = nil
	}
	return m
}

// describe is the mix part of a working: "mix 90% reads, 10% POST /items".
func (m predMix) describe(jobsQueued bool) string {
	var parts []string
	add := func(share float64, what string) {
		if share > 0 {
			parts = append(parts, predPct(share)+" "+what)
		}
	}
	add(m.read, "reads (GET /items/…)")
	add(m.write, "POST /items")
	if jobsQueued {
		add(m.job, "POST /jobs (to the workers)")
	} else {
		add(m.job, "POST /jobs (written at once)")
	}
	add(m.other, "other (app work only)")
	if len(parts) == 0 {
		return "no requests"
	}
	return "mix " + strings.Join(parts, ", ")
}

// predPct formats a share as a percentage: 0.9 → "90%".
func predPct(f float64) string { return capacity.FormatNumber(f*100) + "%" }

// predNum formats a number of a demand's working.
func predNum(v float64) string { return capacity.FormatNumber(v) }

// predMS is a duration in milliseconds.
func predMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// predMean is the mean of a service-time distribution, in milliseconds.
func predMean(d resource.Dist) float64 { return predMS(d.Mean()) }

// predExpr is a demand being summed, in milliseconds, with its working.
type predExpr struct {
	parts []string
	ms    float64
}

// add adds factors × cost (cost in ms, written costText), unless a factor
// or the cost is 0; factors of 1 are not written.
func (e *predExpr) add(cost float64, costText string, factors ...float64) {
	v := cost
	var text []string
	for _, f := range factors {
		v *= f
		if f != 1 {
			text = append(text, predNum(f))
		}
	}
	if v == 0 {
		return
	}
	e.ms += v
	e.parts = append(e.parts, strings.Join(append(text, costText), " × "))
}

// cost adds factors × cost, cost written as a number.
func (e *predExpr) cost(cost float64, factors ...float64) { e.add(cost, predNum(cost), factors...) }

// station is the expression as the demand of a station of the given
// servers, scaled by share (the station's share of the arrivals).
func (e predExpr) station(name string, servers float64, share float64) capacity.Station {
	d := e.ms * share
	working := strings.Join(e.parts, " + ")
	if share != 1 {
		working = predNum(share) + " × (" + working + ")"
	}
	return capacity.Station{Name: name, Servers: servers, Demand: time.Duration(math.Round(d * float64(time.Millisecond))), Working: working + " ms"}
}

// predModel collects the stations of a topology, the component names each
// stands for, and notes for the working.
type predModel struct {
	stations   []capacity.Station
	components map[string][]string
	notes      []string
}

func (m *predModel) add(s capacity.Station, components ...string) {
	if len(components) == 0 {
		components = []string{s.Name}
	}
	if m.components == nil {
		m.components = map[string][]string{}
	}
	m.stations = append(m.stations, s)
	m.components[s.Name] = components
}

// predPrefixed returns prefix+name for each name.
func predPrefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// predNumbered returns the names prefix0 … prefix(n−1).
func predNumbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// predGroup is the label of the components names, which all start with
// prefix: the name of one; prefix* when they are every component whose
// name starts with prefix (every); else prefix{a,b} for prefix-a and
// prefix-b.
func predGroup(prefix string, names []string, every bool) string {
	switch {
	case len(names) == 1:
		return names[0]
	case every:
		return prefix + "*"
	}
	rest := make([]string, len(names))
	for i, n := range names {
		rest[i] = strings.TrimPrefix(n, prefix)
	}
	return prefix + "{" + strings.Join(rest, ",") + "}"
}

// predDB is the database work of a request of the mix behind a cache of
// hit rate h (0: no cache): the reads that miss, the writes done at once
// (jobs too unless they are queued).
func predDB(m predMix, h, read, write float64, jobsQueued bool) predExpr {
	var e predExpr
	e.cost(read, m.read, 1-h)
	writes := m.write
	if !jobsQueued {
		writes += m.job
	}
	e.cost(write, writes)
	return e
}

// predApp is the app slot's demand: its own work on every request plus db.
func predApp(app float64, db predExpr) predExpr {
	var e predExpr
	e.cost(app)
	e.parts = append(e.parts, db.parts...)
	e.ms += db.ms
	return e
}

// predCacheHit is the hit rate of a cache tier: h, or 0 without one.
func predCacheHit(c targets.CacheTierConfig, h predHitRate) float64 {
	if c.Capacity == 0 {
		return 0
	}
	return h.value
}

// predictConfig is Stage for one topology config (a value or a pointer).
func predictConfig(cfg any, m predMix, h predHitRate) (Prediction, error) {
	cfg, err := predDeref(cfg)
	if err != nil {
		return Prediction{}, err
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return Prediction{}, err
		}
	}
	var (
		md       predModel
		hit      float64
		hasCache bool
		queued   bool
		held     predHeld // the app tier's closed loop, where its slots wait on its calls
	)
	useCache := func(c targets.CacheTierConfig) {
		hit, hasCache = predCacheHit(c, h), c.Capacity > 0
		if !hasCache {
			md.notes = append(md.notes, "no cache (capacity 0)")
		}
		if hasCache && c.Policy == data.WriteBehind {
			md.notes = append(md.notes, "write-behind: a write answers after the cache and reaches the db later; modelled as if synchronous (the db does the same writes, the app slot is held a little less)")
		}
	}
	switch c := cfg.(type) {
	case targets.SingleBoxConfig:
		db := predDB(m, 0, predMean(c.DB.Read), predMean(c.DB.Write), false)
		app := predApp(predMean(c.App.Service), db)
		md.add(app.station("box-app", float64(c.App.Slots), 1))
		md.add(db.station("box-db", float64(c.DB.Pool), 1))
		md.add(app.station("box-cpu", float64(c.CPUs), 1)) // the app's work and the db's both run on the CPUs
	case targets.SplitConfig:
		db := predDB(m, 0, predMean(c.DB.Read), predMean(c.DB.Write), false)
		md.add(predApp(predMean(c.App.Service), db).station("app", float64(c.App.Slots), 1))
		md.add(db.station("db", float64(c.DB.Pool), 1))
		held = predHeld{app: "app", slots: c.App.Slots, own: predMean(c.App.Service), down: []predSub{{name: "db", servers: c.DB.Pool, copies: 1, demand: db.ms}}}
	case targets.CacheConfig:
		useCache(c.Cache)
		db := predDB(m, hit, predMean(c.DB.Read), predMean(c.DB.Write), false)
		md.add(predApp(predMean(c.App.Service), db).station("app", float64(c.App.Slots), 1))
		md.add(db.station("db", float64(c.DB.Pool), 1))
		held = predHeld{app: "app", slots: c.App.Slots, own: predMean(c.App.Service), down: []predSub{{name: "db", servers: c.DB.Pool, copies: 1, demand: db.ms}}}
	case targets.LBConfig:
		useCache(c.Cache)
		db := predDB(m, hit, predMean(c.DB.Read), predMean(c.DB.Write), false)
		apps := predNumbered("app-", c.Apps)
		servers := float64(c.Apps * c.App.Slots)
		if c.Algorithm == lb.IPHash && c.Apps > 1 {
			servers = float64(c.App.Slots)
			md.notes = append(md.notes, "ip_hash keys on the client address and the load comes from one: one app takes it all")
		} else {
			md.notes = append(md.notes, fmt.Sprintf("%s spreads the load evenly over %d apps; the balancer is not a limit", c.Algorithm, c.Apps))
		}
		md.add(predApp(predMean(c.App.Service), db).station(predGroup("app-", apps, true), servers, 1), apps...)
		md.add(db.station("db", float64(c.DB.Pool), 1))
		held = predHeld{app: predGroup("app-", apps, true), slots: int(servers), own: predMean(c.App.Service), down: []predSub{{name: "db", servers: c.DB.Pool, copies: 1, demand: db.ms}}}
	case targets.ReplicasConfig:
		useCache(c.Cache)
		var reads, writes predExpr
		reads.cost(predMean(c.Replica.Read), m.read, 1-hit)
		writes.cost(predMean(c.Primary.Write), m.write+m.job)
		app := predApp(predMean(c.App.Service), predExpr{parts: append(append([]string(nil), reads.parts...), writes.parts...), ms: reads.ms + writes.ms})
		md.add(app.station("app", float64(c.App.Slots), 1))
		md.add(writes.station("primary", float64(c.Primary.Pool), 1))
		reps := predNumbered("replica-", c.Replicas)
		md.add(reads.station(predGroup("replica-", reps, true), float64(c.Replicas*c.Replica.Pool), 1), reps...)
		held = predHeld{app: "app", slots: c.App.Slots, own: predMean(c.App.Service), down: []predSub{
			{name: predGroup("replica-", reps, true), servers: c.Replica.Pool, copies: c.Replicas, demand: reads.ms / float64(c.Replicas)},
			{name: "primary", servers: c.Primary.Pool, copies: 1, demand: writes.ms},
		}}
		if c.ReadYourWrites {
			md.notes = append(md.notes, "read-your-writes reads sent to the primary are not modelled")
		}
	case targets.ShardingConfig:
		useCache(c.Cache)
		db := predDB(m, hit, predMean(c.Shard.Read), predMean(c.Shard.Write), false)
		md.add(predApp(predMean(c.App.Service), db).station("app", float64(c.App.Slots), 1))
		shards := predNumbered("shard-", c.Shards)
		md.add(db.station(predGroup("shard-", shards, true), float64(c.Shards*c.Shard.Pool), 1), shards...)
		md.notes = append(md.notes, "hash partitioning spreads the keys evenly over the shards")
		held = predHeld{app: "app", slots: c.App.Slots, own: predMean(c.App.Service), down: []predSub{
			{name: predGroup("shard-", shards, true), servers: c.Shard.Pool, copies: c.Shards, demand: db.ms / float64(c.Shards)},
		}}
	case targets.QueueConfig:
		useCache(c.Cache)
		queued = true
		atOnce := predDB(m, hit, predMean(c.Shard.Read), predMean(c.Shard.Write), true)
		md.add(predApp(predMean(c.App.Service), atOnce).station("app", float64(c.App.Slots), 1))
		shards := predNumbered("shard-", c.Shards)
		md.add(predDB(m, hit, predMean(c.Shard.Read), predMean(c.Shard.Write), false).station(predGroup("shard-", shards, true), float64(c.Shards*c.Shard.Pool), 1), shards...)
		var jobs predExpr
		jobs.cost(predMean(c.Shard.Write), m.job)
		md.add(jobs.station("jobs", float64(c.Workers), 1))
		held = predHeld{app: "app", slots: c.App.Slots, own: predMean(c.App.Service), down: []predSub{
			{name: predGroup("shard-", shards, true), servers: c.Shard.Pool, copies: c.Shards, demand: atOnce.ms / float64(c.Shards), background: jobs.ms / float64(c.Shards)},
		}}
		md.notes = append(md.notes, "POST /items writes at once, holding its app slot; POST /jobs answers 202 and a worker does the write")
		if m.job == 0 && m.write > 0 {
			md.notes = append(md.notes, "no POST /jobs in the mix: the workers stay idle")
		}
	case targets.MultiRegionConfig:
		useCache(c.Cache)
		predMultiRegion(&md, c, m, hit)
	case targets.CDNConfig:
		h = predEdgeHitRate(c, m, h)
		hit, hasCache = h.value, true
		predCDN(&md, c, m, hit)
	case targets.AutoscaleConfig:
		useCache(c.Cache)
		db := predDB(m, hit, predMean(c.DB.Read), predMean(c.DB.Write), false)
		app := predApp(predMean(c.App.Service), db)
		apps := predNumbered("app-", c.Scaling.MaxInstances)
		md.add(app.station(predGroup("app-", apps, true), float64(c.Scaling.MaxInstances*c.App.Slots), 1), apps...)
		md.add(db.station("db", float64(c.DB.Pool), 1))
		held = predHeld{app: predGroup("app-", apps, true), slots: c.Scaling.MaxInstances * c.App.Slots, own: predMean(c.App.Service), down: []predSub{{name: "db", servers: c.DB.Pool, copies: 1, demand: db.ms}}}
		minCeiling := float64(c.Scaling.MinInstances*c.App.Slots) / app.ms * 1000
		md.notes = append(md.notes, fmt.Sprintf("autoscaled from %d to %d instances at %s busy: the ceiling is the one sustained at %d, once scaled out (%d instances carry %s req/s, the load above %s req/s asks for more); a rise waits %v + up to %v, so a sudden step above what the serving instances carry queues meanwhile (the hockey-stick): a capacity search measures this ceiling only if each step's warm-up covers the scale-out and the drain of that queue (bench/staircase.sh: hold 45s, warmup 30s)",
			c.Scaling.MinInstances, c.Scaling.MaxInstances, predPct(c.Scaling.TargetUtilisation), c.Scaling.MaxInstances,
			c.Scaling.MinInstances, predNum(minCeiling), predNum(minCeiling*c.Scaling.TargetUtilisation),
			time.Duration(c.Scaling.ProvisionDelay), time.Duration(c.Scaling.EvaluationPeriod)))
	default:
		return Prediction{}, fmt.Errorf("no prediction model for a %T", cfg)
	}
	ceiling, lim, reason, err := capacity.Bottleneck(md.stations)
	if err != nil {
		return Prediction{}, err
	}
	name := lim.Name
	ceiling, name, reason = held.apply(ceiling, name, reason)
	head := []string{m.describe(queued)}
	if hasCache {
		head = append(head, fmt.Sprintf("cache hit rate %s (%s)", predPct(hit), h.source))
	}
	head = append(head, md.notes...)
	p := Prediction{
		CeilingRPS: ceiling,
		Bottleneck: name,
		Components: md.components[name],
		Working:    strings.Join(head, "; ") + "; " + reason,
		HitRate:    hit,
	}
	if e, ok := cfg.(interface{ Edge() targets.EdgeOptions }); ok {
		predEdge(&p, e.Edge())
	}
	return p, nil
}

// predEdge bounds p by the stage's gateway, when it has one: a global
// quota (or one per address: the load comes from the generator's one
// loopback address) of rate req/s caps the ceiling at min(rate, the
// stations' ceiling); a quota per header value depends on how many
// clients the load names, which the mix does not say, so it is only
// noted. The circuit breaker is noted and not modelled: closed it changes
// no capacity; open, it refuses what the db would have shed.
func predEdge(p *Prediction, o targets.EdgeOptions) {
	var notes []string
	if g := o.Gateway; g != nil {
		switch {
		case g.Key.Header != "":
			notes = append(notes, fmt.Sprintf("gateway: %s req/s per %s value, not modelled (the ceiling assumes enough clients)", predNum(g.Rate), g.Key))
		case g.Rate < p.CeilingRPS:
			notes = append(notes, fmt.Sprintf("gateway: %s req/s %s caps the %s req/s of %s", predNum(g.Rate), predGatewayScope(g), predNum(p.CeilingRPS), p.Bottleneck))
			p.CeilingRPS, p.Bottleneck, p.Components = g.Rate, "gateway", []string{"gateway"}
		default:
			notes = append(notes, fmt.Sprintf("gateway: %s req/s %s, above the stations' ceiling", predNum(g.Rate), predGatewayScope(g)))
		}
	}
	if o.Breaker != nil {
		notes = append(notes, "the db breakers are not modelled")
	}
	if len(notes) > 0 {
		p.Working += "; " + strings.Join(notes, "; ")
	}
}

// predGatewayScope says whose quota a global or per-address rate is.
func predGatewayScope(g *targets.GatewayConfig) string {
	if g.Key.IP {
		return "per address (the load comes from one loopback address)"
	}
	return "for all clients"
}

// predMultiRegion adds the stations of the multi-region topology: each
// region's app (a passive region's app slot also waits out the round trip
// of a forwarded write), the primary region's database (its reads and
// every region's writes) and the passive regions' replicas.
func predMultiRegion(md *predModel, c targets.MultiRegionConfig, m predMix, hit float64) {
	n := len(c.Regions)
	var passive []string
	for _, r := range c.Regions {
		if r != c.Primary {
			passive = append(passive, r)
		}
	}
	share, passiveShare := 1.0, 0.0 // of the arrivals, per region
	if m.regional {
		share, passiveShare = 1/float64(n), 1/float64(n)
		md.notes = append(md.notes, fmt.Sprintf("load spread evenly over the %d regions (requests set X-Region)", n))
	} else {
		md.notes = append(md.notes, fmt.Sprintf("all load in the primary region %s (no request sets X-Region)", c.Primary))
	}
	app, rtt := predMean(c.App.Service), predMS(time.Duration(c.RTT))
	pRead, pWrite, rRead := predMean(c.PrimaryDB.Read), predMean(c.PrimaryDB.Write), predMean(c.Replica.Read)
	writes := m.write + m.job

	var primaryApp, passiveApp predExpr
	primaryApp.cost(app)
	primaryApp.cost(pRead, m.read, 1-hit)
	primaryApp.cost(pWrite, writes)
	passiveApp.cost(app)
	passiveApp.cost(rRead, m.read, 1-hit)
	if rtt > 0 {
		passiveApp.add(pWrite+rtt, "("+predNum(pWrite)+" + "+predNum(rtt)+")", writes)
	} else {
		passiveApp.cost(pWrite, writes)
	}
	md.add(primaryApp.station("app-"+c.Primary, float64(c.App.Slots), share))
	if len(passive) > 0 {
		names := predPrefixed("app-", passive)
		md.add(passiveApp.station(predGroup("app-", names, false), float64(len(passive)*c.App.Slots), float64(len(passive))*passiveShare), names...)
	}

	// The primary database: the primary region's reads that miss, and
	// every region's writes.
	var db predExpr
	db.cost(pRead, share, m.read, 1-hit)
	db.cost(pWrite, writes)
	md.add(db.station("db-"+c.Primary, float64(c.PrimaryDB.Pool), 1))

	if len(passive) > 0 {
		var reads predExpr
		reads.cost(rRead, float64(len(passive))*passiveShare, m.read, 1-hit)
		names := predPrefixed("replica-", passive)
		md.add(reads.station(predGroup("replica-", names, true), float64(len(passive)*c.Replica.Pool), 1), names...)
	}
}

// predEdgeHitRate is the cdn edge's hit rate: the measured one when
// given, else Che's approximation for LRU (targets' edge holds
// Edge.Capacity responses) when the reads draw their keys by one
// {{zipf s n}}, else the scenario's or the assumed one. Che's
// approximation ignores the TTL: it holds for a TTL much longer than the
// edge's characteristic time at the stage's rate, which the default
// 10 minutes is.
func predEdgeHitRate(c targets.CDNConfig, m predMix, h predHitRate) predHitRate {
	if h.source == "measured" || m.zipf == nil {
		return h
	}
	p, err := capacity.ZipfPopularity(m.zipf.s, m.zipf.n)
	if err != nil {
		return h
	}
	che, _, err := capacity.CheHitRate(p, c.Edge.Capacity)
	if err != nil {
		return h
	}
	return predHitRate{che, fmt.Sprintf("Che's approximation for keys %s and %s entries", m.zipf.text, predNum(float64(c.Edge.Capacity)))}
}

// predCDN adds the cdn's stations: the edge (every read pays a lookup,
// a miss also a fill; a write passes through and pays a purge), the
// origin's app (the reads that miss and every write, each holding a slot
// for its db work too; other requests go straight to it) and its db.
// With the writes left out this is the origin's capacity ÷ (1 − h),
// bounded by the edge.
func predCDN(md *predModel, c targets.CDNConfig, m predMix, hit float64) {
	writes := m.write + m.job
	hitMS, fill := predMean(c.Edge.Hit), predMean(c.Edge.Fill)
	var edge predExpr
	edge.cost(hitMS, m.read)
	edge.cost(fill, m.read, 1-hit)
	edge.cost(fill, writes)
	md.add(edge.station("edge", float64(c.Edge.Slots), 1))

	db := predDB(m, hit, predMean(c.DB.Read), predMean(c.DB.Write), false)
	a := predMean(c.App.Service)
	var app predExpr
	app.cost(a, m.read, 1-hit)
	app.cost(a, writes)
	app.cost(a, m.other)
	app.parts = append(app.parts, db.parts...)
	app.ms += db.ms
	md.add(app.station("app", float64(c.App.Slots), 1))
	md.add(db.station("db", float64(c.DB.Pool), 1))
	md.notes = append(md.notes, "reads that hit the edge never reach the origin; writes pass through it and purge its copy; past the origin's limit the edge still answers hits, so goodput keeps rising while misses are shed (503): the ceiling is where every request still succeeds")
}

// predDeref returns the config *cfg points to, or cfg itself; an error for a
// nil pointer.
func predDeref(cfg any) (any, error) {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer {
		return cfg, nil
	}
	if v.IsNil() {
		return nil, fmt.Errorf("no config (a nil %T)", cfg)
	}
	return v.Elem().Interface(), nil
}
