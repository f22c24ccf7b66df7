package grafana

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/push"
)

const dashboardFile = "surge-dashboard.json"

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	Description   string `json:"description"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": …}
	Definition string          `json:"definition"`
	AllValue   string          `json:"allValue"`
	IncludeAll bool            `json:"includeAll"`
	Datasource *datasource     `json:"datasource"`
}

type datasource struct{ Type, UID string }

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

func load(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboard{}
	if err := json.Unmarshal(raw, d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d, raw
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// exported is what the coordinator exports: for each series name (a
// histogram's _bucket, _sum and _count), its label names and the values
// each label takes.
type exported map[string]map[string]map[string]bool

func (e exported) add(name string, ls map[string]string) {
	if e[name] == nil {
		e[name] = map[string]map[string]bool{}
	}
	for k, v := range ls {
		if e[name][k] == nil {
			e[name][k] = map[string]bool{}
		}
		e[name][k][v] = true
	}
}

// liveExporter is a livemetrics exporter fed every kind of data a run
// gives it: two stages' snapshots with successes, failures of three
// classes and response times; send and on-wire lag; lost arrivals;
// agents alive; the run's id.
func liveExporter(t *testing.T) *livemetrics.Exporter {
	t.Helper()
	e := livemetrics.New()
	for _, stage := range []string{"warmup", "peak"} {
		iv := metrics.NewInterval(metrics.DefaultGeometry(), 2)
		for i := range iv.Series {
			s := &iv.Series[i]
			s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped = 20, 18, 12, 6, 2
			s.Errors[metrics.HTTP5xx], s.Errors[metrics.HTTP4xx], s.Errors[metrics.Timeout] = 2, 2, 2
			for j := range 18 {
				if err := s.Response.RecordValue(int64(time.Duration(j+1) * 3 * time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, h := range []interface{ RecordValue(int64) error }{iv.SendLag, iv.OnWireLag} {
			if err := h.RecordValue(int64(2 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		e.Observe(stage, []string{"get-item", "post-order"}, iv)
		e.AddLost(stage, 3)
	}
	e.SetAlive(2)
	e.SetRun("0123456789abcdef", "quickstart")
	return e
}

// scrapeLive serves e with livemetrics.Serve, scrapes /metrics once and
// returns what it exports, each histogram as Prometheus stores it.
func scrapeLive(t *testing.T, e *livemetrics.Exporter) exported {
	t.Helper()
	addr, stop, err := livemetrics.Serve("127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := exported{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			if f.GetType().String() != "HISTOGRAM" {
				out.add(name, ls)
				continue
			}
			out.add(name+"_sum", ls)
			out.add(name+"_count", ls)
			for _, b := range m.GetHistogram().GetBucket() {
				withLE := map[string]string{"le": fmt.Sprint(b.GetUpperBound())}
				for k, v := range ls {
					withLE[k] = v
				}
				out.add(name+"_bucket", withLE)
			}
		}
	}
	return out
}

// pushed is what package push sends of e: the same series, with run_id.
func pushed(t *testing.T, e *livemetrics.Exporter) exported {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := exported{}
	for _, s := range push.Samples(fams, []push.Label{{Name: "run_id", Value: "0123456789abcdef"}}) {
		ls := map[string]string{}
		for _, l := range s.Labels {
			ls[l.Name] = l.Value
		}
		out.add(s.Name, ls)
	}
	return out
}

// grafanaVar matches Grafana's variable forms: $name, ${name}, ${name:fmt}, [[name]].
var grafanaVar = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)

// expand replaces the variables of a query as Grafana would before
// sending it: ranges by a duration, every other one by ".*" (the
// dashboard's variables are all used inside =~ matchers); it returns the
// variables used.
func expand(q string) (string, []string) {
	var used []string
	out := grafanaVar.ReplaceAllStringFunc(q, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		used = append(used, name)
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "1m"
		}
		return ".*"
	})
	return out, used
}

// literal is a label matcher value free of variables and regex syntax
// but "|": its alternatives, each of which must be exported.
var literal = regexp.MustCompile(`^[a-zA-Z0-9_.+-]+(\|[a-zA-Z0-9_.+-]+)*$`)

// checkExpr parses expr with the PromQL parser and checks every metric it
// selects exists, and every label matcher and grouping label is a label
// of it; a matcher's literal values must be values the label takes.
func checkExpr(t *testing.T, where, raw string, live, push exported) {
	t.Helper()
	expr, _ := expand(raw)
	p := parser.NewParser(parser.Options{})
	ast, err := p.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, raw, err)
		return
	}
	var selected []string // metric names under the current node
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			t.Errorf("%s: a selector without a metric name in %q", where, raw)
			return nil
		}
		selected = append(selected, name)
		labelsOf, ok := live[name]
		if !ok {
			t.Errorf("%s: metric %s is not exported by the coordinator", where, name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName {
				continue
			}
			values, ok := labelsOf[m.Name]
			if !ok {
				if _, pushedOnly := push[name][m.Name]; !pushedOnly {
					t.Errorf("%s: %s has no label %q (live labels %v)", where, name, m.Name, keys(labelsOf))
				}
				continue
			}
			// The original text of the matcher's value: a literal one must
			// name values the label really takes.
			if strings.Contains(m.Value, ".*") || !literal.MatchString(m.Value) {
				continue
			}
			for _, v := range strings.Split(m.Value, "|") {
				if (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp) && !values[v] {
					t.Errorf("%s: %s{%s} never takes the value %q (it takes %v)", where, name, m.Name, v, keys(values))
				}
			}
		}
		return nil
	})
	if len(selected) == 0 {
		t.Errorf("%s: %q selects no metric", where, raw)
	}
	// Grouping labels: each must be a label of some selected metric.
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		agg, ok := node.(*parser.AggregateExpr)
		if !ok {
			return nil
		}
		for _, g := range agg.Grouping {
			found := false
			for _, n := range selected {
				_, inLive := live[n][g]
				_, inPush := push[n][g]
				found = found || inLive || inPush
			}
			if !found {
				t.Errorf("%s: groups by %q, a label of none of %v", where, g, selected)
			}
		}
		return nil
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDashboardQueries: every PromQL expression of the dashboard (panel
// targets and variable queries) parses, names only metrics the
// coordinator exports (scraped from a livemetrics exporter fed every kind
// of data), matches and groups only by their labels (run_id: on the
// pushed series, which package push adds), and names only label values
// they take.
func TestDashboardQueries(t *testing.T) {
	d, _ := load(t)
	e := liveExporter(t)
	live, psh := scrapeLive(t, e), pushed(t, e)
	for name, ls := range live {
		if _, ok := psh[name]; !ok {
			t.Errorf("the push sends no %s", name)
		}
		if _, ok := psh[name]["run_id"]; !ok {
			t.Errorf("pushed %s has no run_id (labels %v)", name, keys(ls))
		}
	}
	exprs := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %d %q target %s has no expr", p.ID, p.Title, tg.RefID)
				continue
			}
			exprs++
			checkExpr(t, fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr, live, psh)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		if !strings.Contains(string(v.Query), m[0]) && !strings.Contains(string(v.Query), strings.ReplaceAll(m[0], `"`, `\"`)) {
			t.Errorf("variable %s: definition %q and query %s differ", v.Name, v.Definition, v.Query)
		}
		exprs++
		where := "variable " + v.Name
		checkExpr(t, where, m[1], live, psh)
		sel, _ := expand(m[1])
		ast, err := parser.NewParser(parser.Options{}).ParseExpr(sel)
		if vs, ok := ast.(*parser.VectorSelector); err == nil && ok {
			if _, has := psh[vs.Name][m[2]]; !has {
				t.Errorf("%s: %s has no label %s to list", where, vs.Name, m[2])
			}
		}
		if v.IncludeAll && v.AllValue != ".*" {
			t.Errorf("%s: All must be .* (the queries use =~), is %q", where, v.AllValue)
		}
	}
	t.Logf("%d expressions checked against %d exported series names", exprs, len(live))
}

// TestDashboardModel: a dashboard Grafana imports: schemaVersion ≥ 36, a
// uid and title, unique panel ids, grid positions inside the 24 columns
// that do not overlap, a Prometheus $datasource variable every panel and
// target uses, the run_id, stage and request variables, each used.
func TestDashboardModel(t *testing.T) {
	d, raw := load(t)
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	if !strings.Contains(d.Description, "histogram_quantile") {
		t.Error("the description does not say how percentiles are computed")
	}
	ps := allPanels(d.Panels)
	if len(ps) == 0 {
		t.Fatal("no panels")
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]int{}
	for _, p := range ps {
		if p.ID <= 0 {
			t.Errorf("panel %q: id %d", p.Title, p.ID)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, other, p.Title)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.X < 0 || g.Y < 0 || g.W <= 0 || g.H <= 0 || g.X+g.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v outside the 24 columns", p.ID, p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if o, ok := taken[cell{x, y}]; ok {
					t.Errorf("panels %d and %d overlap at %d,%d", o, p.ID, x, y)
					return
				}
				taken[cell{x, y}] = p.ID
			}
		}
		if p.Type != "row" {
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
				t.Errorf("panel %d %q: datasource %+v; want the $datasource variable", p.ID, p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %d %q has no query", p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %d target %s: datasource %+v", p.ID, tg.RefID, tg.Datasource)
				}
			}
		}
	}
	// Every variable is used: in a query, or (datasource) as the panels' uid.
	var uses strings.Builder
	for _, p := range ps {
		for _, tg := range p.Targets {
			uses.WriteString(tg.Expr + "\n")
		}
		if p.Datasource != nil {
			uses.WriteString(p.Datasource.UID + "\n")
		}
	}
	for _, v := range d.Templating.List {
		if v.Datasource != nil {
			uses.WriteString(v.Datasource.UID + "\n")
		}
		uses.WriteString(v.Definition + "\n")
	}
	_, used := expand(uses.String())
	names := map[string]bool{}
	for _, v := range d.Templating.List {
		names[v.Name] = true
		if !slices.Contains(used, v.Name) {
			t.Errorf("variable $%s is used nowhere", v.Name)
		}
		if v.Name == "datasource" && (v.Type != "datasource" || !strings.Contains(string(v.Query), "prometheus")) {
			t.Errorf("variable datasource: type %q query %s; want a Prometheus datasource variable", v.Type, v.Query)
		}
	}
	for _, want := range []string{"datasource", "run_id", "stage", "request"} {
		if !names[want] {
			t.Errorf("no $%s variable", want)
		}
	}
	for _, u := range used {
		if !names[u] && !strings.HasPrefix(u, "__") {
			t.Errorf("$%s is used but not defined", u)
		}
	}
	// What the issue lists, each in some query.
	all := uses.String()
	for _, want := range []string{`outcome=~"intended|issued|succeeded"`, "histogram_quantile(0.99", "surge_run_failed_total", `outcome="dropped"`,
		`outcome="lost"`, "surge_run_send_lag_p99_seconds", "surge_run_on_wire_lag_p99_seconds", "surge_run_agents_alive", "by (stage, request"} {
		if !strings.Contains(all, want) {
			t.Errorf("no query has %s", want)
		}
	}
	if !json.Valid(raw) {
		t.Error("not valid JSON")
	}
}
