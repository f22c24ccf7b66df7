package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownTopology is matched (errors.Is) by the error of Start for a
// name that is not a bundled topology.
var ErrUnknownTopology = errors.New("unknown topology")

// topology is one bundled target.
type topology struct {
	name        string
	description string // one line, for `target --list`
	// defaults returns a pointer to the default configuration.
	defaults func() any
	// build checks cfg (nil: the defaults; else the topology's config
	// type, as a value or a pointer) and returns the handler and what
	// stops what the handler owns.
	build func(cfg any) (http.Handler, func() error, error)
}

// entry makes the topology of a config type C.
func entry[C interface{ Validate() error }](name, description string, def func() C, build func(C, *assembly) (http.Handler, error)) topology {
	return topology{
		name:        name,
		description: description,
		defaults:    func() any { c := def(); return &c },
		build: func(cfg any) (http.Handler, func() error, error) {
			var c C
			switch v := cfg.(type) {
			case nil:
				c = def()
			case C:
				c = v
			case *C:
				if v == nil {
					c = def()
				} else {
					c = *v
				}
			default:
				return nil, nil, fmt.Errorf("%w: topology %s takes a %T (got %T)", ErrInvalidConfig, name, c, cfg)
			}
			if err := errors.Join(c.Validate(), validateEdge(c)); err != nil {
				return nil, nil, fmt.Errorf("%w: topology %s: %w", ErrInvalidConfig, name, err)
			}
			a := newAssembly()
			var h http.Handler
			err := a.useEdge(c)
			if err == nil {
				h, err = build(c, a)
			}
			if err != nil {
				return nil, nil, errors.Join(fmt.Errorf("build topology %s: %w", name, err), a.close())
			}
			return h, a.close, nil
		},
	}
}

// echoEntry is the echo target, configured by an EchoConfig.
var echoEntry = topology{
	name:        "echo",
	description: "answers every request with a fixed status and body after a fixed delay (default 200, 64 bytes, no delay)",
	defaults:    func() any { c := DefaultEchoConfig(); return &c },
	build: func(cfg any) (http.Handler, func() error, error) {
		c := DefaultEchoConfig()
		switch v := cfg.(type) {
		case nil:
		case EchoConfig:
			c = v
		case *EchoConfig:
			if v != nil {
				c = *v
			}
		default:
			return nil, nil, fmt.Errorf("%w: topology echo takes a targets.EchoConfig (got %T)", ErrInvalidConfig, cfg)
		}
		h, err := NewEcho(c)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		return h, func() error { return nil }, nil
	},
}

// topologies is the table of bundled targets, the one place that lists
// them. Keep it sorted by name. Descriptions quote no predicted ceiling:
// `target --list` computes it (internal/predict.Reference), so that it is
// the figure `coordinator plan` and the README give.
var topologies = []topology{
	entry("autoscale", "10–26 app instances scaling out on 60 % utilisation after 3 s, in after a 15 s cool-down, over cache and db; instance count on /metrics",
		DefaultAutoscaleConfig, buildAutoscale),
	entry("cache", "stage 3: app + cache-aside LRU cache + db; the hit rate comes from the load's key popularity",
		DefaultCacheConfig, buildCache),
	entry("cdn", "edge cache of 10,000 responses (8 slots) in front of app + db; the hit rate comes from the load's key popularity",
		DefaultCDNConfig, buildCDN),
	echoEntry,
	entry("lb", "stage 4: reverse-proxy load balancer over 2 app servers on loopback, shared cache and db",
		DefaultLBConfig, buildLB),
	entry("multi-region", "stage 8: 3 regions by X-Region header, 80 ms apart, active-passive writes to us-east (passive apps wait out the RTT)",
		DefaultMultiRegionConfig, buildMultiRegion),
	entry("queue", "stage 7: POST /jobs answers 202 and 16 workers write to 5 shards later; GET /items still served",
		DefaultQueueConfig, buildQueue),
	entry("replicas", "stage 5: reads to 2 replicas 100 ms behind, writes to the primary",
		DefaultReplicasConfig, buildReplicas),
	entry("sharding", "stage 6: 4 primaries, each item on one by hash of its id",
		DefaultShardingConfig, buildSharding),
	entry("single-box", "stage 1: app and db sharing one box of 4 CPUs",
		DefaultSingleBoxConfig, buildSingleBox),
	entry("split", "stage 2: app server and a db on its own machine",
		DefaultSplitConfig, buildSplit),
}

// ErrInvalidConfig is matched (errors.Is) by the error of StartTopology
// and DecodeConfig for a configuration that is malformed or out of range;
// the message names the field.
var ErrInvalidConfig = errors.New("invalid topology config")

func lookup(name string) (topology, bool) {
	i := slices.IndexFunc(topologies, func(t topology) bool { return t.name == name })
	if i < 0 {
		return topology{}, false
	}
	return topologies[i], true
}

// Names returns the names of the bundled topologies, sorted.
func Names() []string {
	names := make([]string, len(topologies))
	for i, t := range topologies {
		names[i] = t.name
	}
	slices.Sort(names)
	return names
}

// Describe returns a one-line description of the named topology, and
// whether it exists.
func Describe(name string) (string, bool) {
	t, ok := lookup(name)
	return t.description, ok
}

// Start serves the named topology, in its default configuration, on the
// TCP address listen (like "127.0.0.1:0"). Its Close stops everything the
// topology started.
func Start(name, listen string) (*Server, error) { return StartTopology(name, listen, nil) }

// StartTopology serves the named topology on the TCP address listen,
// configured by cfg: nil for the defaults, or the topology's config type
// (SplitConfig for "split", …, EchoConfig for "echo") as a value or a
// pointer, such as DecodeConfig returns. Errors match ErrUnknownTopology
// or ErrInvalidConfig when the name or the configuration is at fault.
//
// Every topology but echo serves the same API:
//
//	GET  /items/{id}  200 {"id":..,"version":..,"source":..}, read through the
//	                  topology's data path; 503 + Retry-After when a component sheds it
//	POST /items       201 with the same body and Location: /items/{id}; the body is
//	                  empty or JSON with an "id" (string or integer), else the server picks one
//	POST /jobs        queue: 202 {"id":job,"item":id} + Location: /jobs/{job};
//	                  other topologies: the write done synchronously, answered as POST /items (201)
//	GET  /jobs/{id}   queue: 200 with the job's status as JSON (404 if unknown);
//	                  others: 404 saying the topology has no job queue
//	GET  /health      200 "ok" while serving
//	GET  /metrics     Prometheus text with every component's surge_target_* series
//
// and a shop flow for user journeys, whose sessions live in the
// topology's shared store (the cache where there is one, else the db):
//
//	POST /login             {"user":"NAME","password":ANY} (user 1–64 characters) → 200
//	                        {"token":..,"user":..} + Set-Cookie: session=<id>; Path=/; HttpOnly; SameSite=Lax
//	GET  /shop/items/{id}   200 {"id","version","source","etag"} + ETag: an item read as GET /items/{id}
//	POST /cart              {"item":"<id>","qty":N} (qty 1–1000, default 1) → 200 {"cart_id":..,"items":units,"lines":n}
//	POST /checkout          201 {"order_id":..,"items":units}; 409 when the cart is empty; empties it
//	GET  /shop/stats        200 {"logins","auth":{outcome:n},"checkouts","sessions","sessions_evicted","max_sessions"}
//
// The three middle routes need Authorization: Bearer <token> and the
// session cookie of the same login; otherwise they answer 401 with
// WWW-Authenticate: Bearer and {"error":..,"outcome":..}, the outcome
// one of missing_token, missing_cookie, unknown_session, unknown_token
// or mismatch (see AuthOutcome), each counted as is every ok, in
// GET /shop/stats, surge_target_auth_requests_total{outcome} and
// Server.Shop. Bad bodies get 400 (413 over 16 KiB) with a JSON error.
//
// Requests may name their client (X-Client-ID, for read-your-writes) and
// their region (X-Region, multi-region; an unknown region is 400).
//
// With the config's EdgeOptions, a gateway limits the API and shop
// routes (429 + Retry-After; RateLimit-Limit, -Remaining and -Reset on
// every limited response), and a breaker in front of each db node answers
// 503 + X-Surge-Breaker: open + Retry-After while open (see EdgeOptions).
//
// Close stops the listener, then every component's goroutines and the
// lb topology's backend listeners.
func StartTopology(name, listen string, cfg any) (*Server, error) {
	t, ok := lookup(name)
	if !ok {
		return nil, unknown(name)
	}
	h, cleanup, err := t.build(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := NewServer(listen, h)
	if err != nil {
		return nil, errors.Join(err, cleanup())
	}
	srv.cleanup = cleanup
	return srv, nil
}

func unknown(name string) error {
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownTopology, name, strings.Join(Names(), ", "))
}

// DefaultConfig returns a pointer to the default configuration of the
// named topology (a *SplitConfig for "split", …), to print or to copy.
func DefaultConfig(name string) (any, error) {
	t, ok := lookup(name)
	if !ok {
		return nil, unknown(name)
	}
	return t.defaults(), nil
}

// maxConfigBytes bounds a configuration file.
const maxConfigBytes = 1 << 20

// fieldOf names the field of a decoding error that does not name one
// itself (a bad distribution or duration): the path to the string value
// the error quotes, like "app.service: ". It returns "" when err names its
// field already or no value matches.
func fieldOf(doc []byte, err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	if errors.As(err, &typeErr) || errors.As(err, &syntaxErr) || strings.Contains(err.Error(), "unknown field") {
		return ""
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return ""
	}
	msg := err.Error()
	var walk func(path string, v any) string
	walk = func(path string, v any) string {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if found := walk(p, x[k]); found != "" {
					return found
				}
			}
		case []any:
			for i, e := range x {
				if found := walk(fmt.Sprintf("%s[%d]", path, i), e); found != "" {
					return found
				}
			}
		case string:
			if strings.Contains(msg, strconv.Quote(x)) {
				return path
			}
		}
		return ""
	}
	if p := walk("", v); p != "" {
		return p + ": "
	}
	return ""
}

// DecodeConfig reads a JSON configuration of the named topology from r:
// the fields it sets override the defaults; an unknown field, a value of
// the wrong type or a value out of range is an error (matching
// ErrInvalidConfig) that names the field. It returns a pointer to the
// topology's config type, for StartTopology.
func DecodeConfig(name string, r io.Reader) (any, error) {
	t, ok := lookup(name)
	if !ok {
		return nil, unknown(name)
	}
	cfg := t.defaults()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes))
	if err != nil {
		return nil, fmt.Errorf("read config of topology %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%w: topology %s: %s%w", ErrInvalidConfig, name, fieldOf(data, err), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: topology %s: more than one JSON value", ErrInvalidConfig, name)
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := errors.Join(v.Validate(), validateEdge(cfg)); err != nil {
			return nil, fmt.Errorf("%w: topology %s: %w", ErrInvalidConfig, name, err)
		}
	}
	return cfg, nil
}

// StartEcho serves the echo target configured by cfg on the TCP address
// listen.
func StartEcho(listen string, cfg EchoConfig) (*Server, error) {
	h, err := NewEcho(cfg)
	if err != nil {
		return nil, err
	}
	return NewServer(listen, h)
}
