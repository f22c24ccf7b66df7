package har

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/surgeload/surge/internal/template"
	"github.com/surgeload/surge/scenario"
)

// Defaults of Options.
const (
	DefaultName     = "imported-from-har"
	DefaultRate     = "1/s"
	DefaultDuration = "1m"
	DefaultThinkMin = 100 * time.Millisecond
	// JourneyName names the one journey and the one stage.
	JourneyName = "recorded"
	// maxStepName bounds a step's name, in characters.
	maxStepName = 100
)

// Options control Convert. The zero value is the defaults.
type Options struct {
	// Name is the scenario's name; default DefaultName.
	Name string
	// Rate and Duration are the constant load (journeys per second, and
	// how long), in scenario syntax; defaults DefaultRate and
	// DefaultDuration: low, so that a first run is gentle.
	Rate, Duration string
	// KeepAssets keeps static assets as steps.
	KeepAssets bool
	// Source names the archive in the output's header comment.
	Source string
	// ThinkMin is the shortest recorded gap written as a think step;
	// default DefaultThinkMin.
	ThinkMin time.Duration
}

// Summary says what Convert kept and dropped.
type Summary struct {
	Entries int // entries in the archive
	Steps   int // request steps written
	Thinks  int // think steps written
	// Dropped counts the entries left out, by reason.
	Dropped map[string]int
	// HeadersDropped counts the request headers left out, by reason.
	HeadersDropped map[string]int
	// Origin is the stage's URL; Others counts the steps to every other
	// origin.
	Origin string
	Others map[string]int
	// Vars are the extractions, in the order they were made.
	Vars []Var
	// Warnings are things the user should look at.
	Warnings []string
}

// Var is one extraction Convert made.
type Var struct {
	Name string
	Step string // the step that extracts it
	From string // "$.token" or "header X-Token"
	Uses int    // the places that use it
	// Value is the recorded value. It may be a secret: it is not in the
	// output, and the command does not print it.
	Value string
}

// DroppedEntries is the number of entries left out.
func (s *Summary) DroppedEntries() int { return sum(s.Dropped) }

// DroppedHeaders is the number of request headers left out.
func (s *Summary) DroppedHeaders() int { return sum(s.HeadersDropped) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Lines describes the summary in a few lines of text, the same in the
// output's header comment and on the command's stderr.
func (s *Summary) Lines() []string {
	var lines []string
	lines = append(lines, fmt.Sprintf("%d entries: %d request steps, %d think steps; %d entries dropped%s",
		s.Entries, s.Steps, s.Thinks, s.DroppedEntries(), counts(s.Dropped)))
	if n := s.Dropped[dropAsset]; n > 0 {
		lines = append(lines, fmt.Sprintf("static assets (CSS, JavaScript, images, fonts, media, source maps) are dropped: --keep-assets keeps the %d", n))
	}
	lines = append(lines, fmt.Sprintf("%d request headers dropped%s", s.DroppedHeaders(), counts(s.HeadersDropped)))
	if len(s.Vars) == 0 {
		lines = append(lines, "no tokens: no later request reuses a value an earlier response returned")
	}
	for _, v := range s.Vars {
		lines = append(lines, fmt.Sprintf("{{var %s}}: extracted by step %q from %s, used %d time(s)", v.Name, v.Step, v.From, v.Uses))
	}
	if len(s.Others) > 0 {
		var parts []string
		for _, o := range slices.Sorted(mapKeys(s.Others)) {
			parts = append(parts, fmt.Sprintf("%s (%d)", o, s.Others[o]))
		}
		lines = append(lines, fmt.Sprintf("steps to origins other than the stage's %s: %s", s.Origin, strings.Join(parts, ", ")))
	}
	var remote []string
	for _, o := range append([]string{s.Origin}, slices.Sorted(mapKeys(s.Others))...) {
		if u, err := url.Parse(o); err == nil && o != "" && !loopback(u.Hostname()) {
			remote = append(remote, u.Hostname())
		}
	}
	if len(remote) > 0 {
		lines = append(lines, fmt.Sprintf("agents dial only loopback targets unless --allow-target allows %s; remove the steps you do not mean to load",
			strings.Join(slices.Compact(slices.Sorted(slices.Values(remote))), ", ")))
	}
	return append(lines, s.Warnings...)
}

// loopback reports whether a host is a loopback address or localhost.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// counts writes " (3 static assets, 1 CORS preflights)" with the reasons
// in alphabetical order, or "".
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(mapKeys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// step is a journey step being built: a request, or a think time.
type step struct {
	think time.Duration // > 0 for a think step

	name, method string
	target       field // the path (same origin) or the URL
	absolute     bool  // target is a URL
	headers      []header
	body         field
	expect       int // 0: the default
	extract      []*source

	entry *Entry // the recorded entry
}

type header struct {
	name string
	val  field
}

// Convert turns an archive into a journey scenario's YAML. It fails when
// the options are invalid or no request is left to play.
func Convert(h *HAR, opts Options) ([]byte, *Summary, error) {
	out, sum, _, err := convert(h, opts)
	return out, sum, err
}

// convert is Convert, also returning the steps (for tests).
func convert(h *HAR, opts Options) ([]byte, *Summary, []*step, error) {
	name := cmp.Or(opts.Name, DefaultName)
	rate, dur := cmp.Or(opts.Rate, DefaultRate), cmp.Or(opts.Duration, DefaultDuration)
	if r, err := scenario.ParseRate(rate); err != nil || !(r > 0) {
		return nil, nil, nil, fmt.Errorf("rate %q must be a rate > 0, like 1/s or 30/m", rate)
	}
	if d, err := scenario.ParseDuration(dur); err != nil || d <= 0 {
		return nil, nil, nil, fmt.Errorf("duration %q must be a duration > 0, like 30s or 5m", dur)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) || !utf8.ValidString(name) {
		return nil, nil, nil, fmt.Errorf("name %q must not contain control characters", name)
	}
	if h == nil || h.Log == nil {
		return nil, nil, nil, errors.New("no archive")
	}
	thinkMin := cmp.Or(opts.ThinkMin, DefaultThinkMin)

	sum := &Summary{Entries: len(h.Log.Entries), Dropped: map[string]int{}, HeadersDropped: map[string]int{}, Others: map[string]int{}}
	entries := make([]*Entry, 0, len(h.Log.Entries))
	for i := range h.Log.Entries {
		entries = append(entries, &h.Log.Entries[i])
	}
	slices.SortStableFunc(entries, func(a, b *Entry) int { return a.Started.Compare(b.Started) })

	var steps []*step
	// busy is when the last thing the page was doing before the next
	// entry ended (its assets included, played or not): the user's think
	// time starts there.
	var busy time.Time
	requests := 0
	for _, e := range entries {
		if e.Request == nil {
			continue // Decode refuses these; a HAR built in code may have them
		}
		u, err := url.Parse(e.Request.URL)
		switch {
		case err != nil || !playable(u):
			sum.Dropped[dropScheme]++
			continue
		case e.Response == nil || e.Response.Status == 0:
			sum.Dropped[dropNoResp]++
			continue
		case e.FromCache != "":
			sum.Dropped[dropCached]++
			continue
		}
		var gap time.Duration
		if requests > 0 {
			gap = e.Started.Sub(busy).Round(time.Millisecond)
		}
		if end := e.End(); end.After(busy) {
			busy = end
		}
		if isPreflight(e.Request) {
			sum.Dropped[dropPreflight]++
			continue
		}
		if !opts.KeepAssets && isAsset(e, u.Path) {
			sum.Dropped[dropAsset]++
			continue
		}
		// The limit counts request steps (think steps keep no
		// histograms).
		if requests == scenario.MaxJourneySteps {
			sum.Dropped[dropOverLimit]++
			continue
		}
		if gap >= thinkMin {
			if gap > scenario.MaxThink.Std() {
				sum.Warnings = append(sum.Warnings, fmt.Sprintf("a recorded pause of %v before step %d is capped at %v", gap, requests+1, scenario.MaxThink))
				gap = scenario.MaxThink.Std()
			}
			steps = append(steps, &step{think: gap})
			sum.Thinks++
		}
		if sum.Origin == "" {
			sum.Origin = origin(u)
		}
		steps = append(steps, buildStep(e, u, sum))
		requests++
	}
	if n := sum.Dropped[dropOverLimit]; n > 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("a journey has at most %d request steps: the last %d request(s) were left out", scenario.MaxJourneySteps, n))
	}
	if requests == 0 {
		return nil, sum, nil, fmt.Errorf("no request to play: %d entries, every one dropped%s", sum.Entries, counts(sum.Dropped))
	}
	sum.Steps = requests
	findTokens(steps, sum)

	out := emit(name, rate, dur, opts, sum, steps)
	if len(out) > scenario.MaxFileSize {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("the scenario is %d KiB, over the %d MiB limit of scenario files: remove steps or shorten bodies", len(out)>>10, scenario.MaxFileSize>>20))
		out = emit(name, rate, dur, opts, sum, steps)
	}
	return out, sum, steps, nil
}

// playable reports whether a URL is one a step can send: http or https,
// with a host and a valid port.
func playable(u *url.URL) bool {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}

// origin is a URL's scheme and host (with its port when not the
// default), lower-cased.
func origin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return u.Scheme + "://" + host
}

// buildStep makes the request step of an entry.
func buildStep(e *Entry, u *url.URL, sum *Summary) *step {
	rq := e.Request
	s := &step{method: strings.ToUpper(rq.Method), entry: e}
	target := requestTarget(u)
	if o := origin(u); o != sum.Origin {
		s.absolute = true
		s.target = field{raw: o + target}
		sum.Others[o]++
	} else {
		s.target = field{raw: target}
	}

	// Headers: dropped by rule, repeated ones joined, names canonical.
	byName := map[string]int{}
	for _, hv := range rq.Headers {
		if why := headerDrop(hv.Name, hv.Value); why != "" {
			sum.HeadersDropped[why]++
			continue
		}
		canon := textproto.CanonicalMIMEHeaderKey(hv.Name)
		// A decoded archive is UTF-8; one built in code may not be, and a
		// scenario file must be.
		v := strings.ToValidUTF8(hv.Value, "\uFFFD")
		if i, ok := byName[canon]; ok {
			s.headers[i].val.raw += ", " + v
			continue
		}
		byName[canon] = len(s.headers)
		s.headers = append(s.headers, header{name: canon, val: field{raw: v}})
	}
	if pd := rq.PostData; pd != nil {
		body := pd.Text
		if body == "" && len(pd.Params) > 0 {
			if isForm(pd.MimeType) {
				v := make([]string, 0, len(pd.Params))
				for _, p := range pd.Params {
					v = append(v, url.QueryEscape(p.Name)+"="+url.QueryEscape(p.Value))
				}
				body = strings.Join(v, "&")
			} else {
				sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s %s: the recording has the body's form fields but not its text (%s): the step is sent without a body", s.method, u.Path, pd.MimeType))
			}
		}
		s.body = field{raw: strings.ToValidUTF8(body, "\uFFFD")}
		if _, ok := byName["Content-Type"]; !ok && pd.MimeType != "" && body != "" && validHeaderValue(pd.MimeType) {
			s.headers = append(s.headers, header{name: "Content-Type", val: field{raw: pd.MimeType}})
		}
	}
	slices.SortFunc(s.headers, func(a, b header) int { return strings.Compare(a.name, b.name) })
	if st := e.Response.Status; (st < 200 || st >= 400) && st >= 100 && st <= 599 {
		s.expect = st
	}
	return s
}

// requestTarget writes a URL's path and query as a valid request target:
// the path as escaped by the URL, the query as recorded with spaces,
// control characters, non-ASCII bytes and "#" percent-encoded.
func requestTarget(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		var b strings.Builder
		for i := 0; i < len(u.RawQuery); i++ {
			c := u.RawQuery[i]
			if c <= ' ' || c >= 0x7f || c == '#' {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		p += "?" + b.String()
	}
	return p
}

// nameSteps names the request steps "METHOD path" (the URL without its
// query; for another origin, with its origin; a variable as {NAME}),
// unique within the journey.
func nameSteps(steps []*step) {
	seen := map[string]int{}
	for _, s := range steps {
		if s.think > 0 {
			continue
		}
		t := s.target.label()
		if i := strings.IndexByte(t, '?'); i >= 0 {
			t = t[:i]
		}
		if u, err := url.PathUnescape(t); err == nil && utf8.ValidString(u) && !strings.ContainsFunc(u, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t = u
		}
		n := s.method + " " + t
		if utf8.RuneCountInString(n) > maxStepName {
			n = string([]rune(n)[:maxStepName-1]) + "…"
		}
		seen[n]++
		if k := seen[n]; k > 1 {
			n = fmt.Sprintf("%s #%d", n, k)
			seen[n]++
		}
		s.name = n
	}
}

// findTokens replaces in each request the values an earlier response
// returned by variables, and adds the extractions. See the package
// documentation for the rules.
func findTokens(steps []*step, sum *Summary) {
	sources := map[string]*source{} // value → where it was first returned
	sent := map[string]bool{}       // values requests have sent
	cookies := map[string]string{}  // a cookie's value → its name
	warned := map[string]bool{}     // header names warned about
	names := map[string]bool{}
	var order []*source
	uses := map[*source]int{}
	reqIndex := 0
	var reqSteps []*step
	for _, s := range steps {
		if s.think > 0 {
			continue
		}
		use := func(f *field, start, end int, v string) {
			src, ok := sources[v]
			if !ok {
				return
			}
			before := len(f.spans)
			f.add(start, end, src)
			if len(f.spans) == before {
				return
			}
			if src.name == "" {
				src.name = varName(src.hint, names)
				reqSteps[src.step].extract = append(reqSteps[src.step].extract, src)
				order = append(order, src)
			}
			uses[src]++
		}
		// 1. What this request sends, replaced where an earlier response
		// returned it; 2. remembered as sent.
		for _, v := range targetValues(&s.target, s.absolute) {
			use(&s.target, v.start, v.end, v.value)
			sent[v.value] = true
		}
		for i := range s.headers {
			for _, v := range headerValues(s.headers[i].val.raw) {
				use(&s.headers[i].val, v.start, v.end, v.value)
				sent[v.value] = true
			}
			// A cookie's value sent back in a header (a double-submit
			// CSRF token) is not extracted (the jar carries cookies),
			// but the recorded value will be stale: say so.
			h := &s.headers[i]
			if c, ok := cookies[h.val.raw]; ok && len(h.val.spans) == 0 && !warned[h.name] {
				warned[h.name] = true
				sum.Warnings = append(sum.Warnings, fmt.Sprintf("header %s of step %d sends the value of cookie %s as recorded; if it must be fresh, extract it ({cookie: %s}) and use {{var …}}",
					h.name, reqIndex+1, c, c))
			}
		}
		for _, v := range bodyValues(s) {
			use(&s.body, v.start, v.end, v.value)
			sent[v.value] = true
		}
		// 3. What its response returns, if no request sent it first.
		reqSteps = append(reqSteps, s)
		register := func(v string, src *source) {
			if _, dup := sources[v]; dup || sent[v] || !tokenLike(v) {
				return
			}
			src.value, src.step = v, reqIndex
			sources[v] = src
		}
		if body, ok := s.entry.Response.Content.Body(); ok && isJSON(s.entry.Response.Content.MimeType, body) {
			for _, js := range jsonStrings(body) {
				if js.path != "" {
					register(js.value, &source{json: js.path, hint: js.key})
				}
			}
		}
		seenHdr := map[string]bool{}
		for _, hv := range s.entry.Response.Headers {
			canon := textproto.CanonicalMIMEHeaderKey(hv.Name)
			first := !seenHdr[canon] // an extraction reads a header's first value
			seenHdr[canon] = true
			if strings.EqualFold(hv.Name, "Set-Cookie") {
				if c, err := http.ParseSetCookie(hv.Value); err == nil && tokenLike(c.Value) {
					cookies[c.Value] = c.Name
				}
			}
			if first && tokenSourceHeader(hv.Name) && validHeaderName(hv.Name) {
				register(hv.Value, &source{hdr: canon, hint: hv.Name})
			}
		}
		reqIndex++
	}
	nameSteps(steps)
	for _, src := range order {
		from := src.json
		if src.hdr != "" {
			from = "header " + src.hdr
		}
		sum.Vars = append(sum.Vars, Var{Name: src.name, Step: reqSteps[src.step].name, From: from, Uses: uses[src], Value: src.value})
	}
}

// value is a recorded value and where it is in its field.
type value struct {
	start, end int
	value      string
}

// targetValues returns the path segments and query values of a request
// target (after the origin when absolute) that need no escaping, i.e.
// those written as they are.
func targetValues(f *field, absolute bool) []value {
	raw := f.raw
	base := 0
	if absolute {
		// scheme://host then the target
		i := strings.Index(raw, "://")
		j := strings.IndexByte(raw[i+3:], '/')
		if j < 0 {
			return nil
		}
		base = i + 3 + j
	}
	t := raw[base:]
	q := len(t)
	if i := strings.IndexByte(t, '?'); i >= 0 {
		q = i
	}
	var out []value
	pos := 0
	for _, seg := range strings.Split(t[:q], "/") {
		if seg != "" {
			out = append(out, value{base + pos, base + pos + len(seg), seg})
		}
		pos += len(seg) + 1
	}
	if q < len(t) {
		out = append(out, formValues(t[q+1:], base+q+1)...)
	}
	return out
}

// formValues returns the values of a URL-encoded query or form (a&b=c) at
// offset base, those that need no escaping.
func formValues(q string, base int) []value {
	var out []value
	pos := 0
	for _, kv := range strings.Split(q, "&") {
		if i := strings.IndexByte(kv, '='); i >= 0 {
			v := kv[i+1:]
			if dec, err := url.QueryUnescape(v); err == nil && dec == v && v != "" {
				out = append(out, value{base + pos + i + 1, base + pos + len(kv), v})
			}
		}
		pos += len(kv) + 1
	}
	return out
}

// headerValues returns a header value as a whole, and the word after its
// first space ("Bearer TOKEN").
func headerValues(v string) []value {
	out := []value{{0, len(v), v}}
	if i := strings.IndexByte(v, ' '); i > 0 {
		rest := v[i+1:]
		if rest != "" && !strings.ContainsAny(rest, " \t") {
			out = append(out, value{i + 1, len(v), rest})
		}
	}
	return out
}

// bodyValues returns the string values of a JSON body (each place it is
// written as "value", for values that need no JSON escape) or the values
// of a form body.
func bodyValues(s *step) []value {
	raw := s.body.raw
	if raw == "" {
		return nil
	}
	ct := ""
	for _, h := range s.headers {
		if h.name == "Content-Type" {
			ct = h.val.raw
		}
	}
	if isForm(ct) {
		return formValues(raw, 0)
	}
	if !isJSON(ct, []byte(raw)) {
		return nil
	}
	var out []value
	done := map[string]bool{}
	for _, js := range jsonStrings([]byte(raw)) {
		v := js.value
		if done[v] || !plainJSONString(v) {
			continue
		}
		done[v] = true
		quoted := `"` + v + `"`
		for off := 0; ; {
			i := strings.Index(raw[off:], quoted)
			if i < 0 {
				break
			}
			start := off + i + 1
			out = append(out, value{start, start + len(v), v})
			off = start + len(v) + 1
		}
	}
	slices.SortFunc(out, func(a, b value) int { return a.start - b.start })
	return out
}

// plainJSONString reports whether v is written in JSON as itself between
// quotes (no character that needs an escape).
func plainJSONString(v string) bool {
	for _, r := range v {
		if r < ' ' || r == '"' || r == '\\' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// varName makes a variable name from a JSON key or header name: invalid
// characters become "_", a leading digit gets a "_" before it, at most 64
// bytes, and unique (name_2, name_3, … when taken).
func varName(hint string, taken map[string]bool) string {
	var b strings.Builder
	for _, r := range hint {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' && b.Len() > 0:
			b.WriteByte('_')
		}
	}
	n := strings.Trim(b.String(), "_")
	if strings.Contains(hint, "-") { // a header name: lower case reads better
		n = strings.ToLower(n)
	}
	if n == "" {
		n = "value"
	}
	if n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	n = n[:min(len(n), 64)]
	base := n
	for k := 2; taken[n] || !template.ValidVarName(n); k++ {
		suffix := fmt.Sprintf("_%d", k)
		n = base[:min(len(base), 64-len(suffix))] + suffix
	}
	taken[n] = true
	return n
}
