package scenario

import (
	"errors"
	"math"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/template"
)

// varScope is what the {{var NAME}} actions of one journey step may use:
// the variables the journey's steps extract, and which step extracts each
// first.
type varScope struct {
	journey string
	step    int
	// first maps a variable to the first step that extracts it.
	first map[string]int
	// stepName and stepPath of each step, for messages.
	stepName []string
	stepPath []string
}

// varTemplate compiles a template like template does, then checks its
// {{var NAME}} actions against scope: a request of the mix (scope nil) has
// no variables; a step may use a variable an earlier step extracts.
func (c *checker) varTemplate(path, raw string, kind templateKind, scope *varScope) *template.Template {
	t := c.template(path, raw, kind)
	if t == nil {
		return nil
	}
	for _, ref := range t.VarRefs() {
		switch first, ok := scope.lookup(ref.Name); {
		case scope == nil:
			c.addIn(path, raw, ref.Offset, "{{var %s}} is only for journey steps (a request of the mix has no variables)", ref.Name)
		case !ok:
			c.addIn(path, raw, ref.NameOffset, "unknown variable %q: no step of journey %q extracts it", ref.Name, scope.journey)
		case first == scope.step:
			c.addIn(path, raw, ref.NameOffset, "variable %q is used before the step that extracts it: this very step, whose values come from its response", ref.Name)
		case first > scope.step:
			c.addIn(path, raw, ref.NameOffset, "variable %q is used before the step that extracts it (step %q, at %s)",
				ref.Name, scope.stepName[first], c.whereKey(keyPath(joinPath(scope.stepPath[first], "extract"), ref.Name)))
		}
	}
	return t
}

func (s *varScope) lookup(name string) (int, bool) {
	if s == nil {
		return 0, false
	}
	k, ok := s.first[name]
	return k, ok
}

// journeys checks the journeys section.
func (c *checker) journeys(s *Scenario) {
	js := s.Journeys
	c.journeyNames = make([]string, len(js))
	c.stepNames = make([][]string, len(js))
	c.stepCompiled = make([][]Compiled, len(js))
	if len(js) == 0 {
		if c.set("journeys") {
			c.add("journeys", "journeys must list at least one journey")
		}
		return
	}
	if len(js) > MaxJourneys {
		c.add(indexPath("journeys", MaxJourneys), "at most %d journeys are allowed (got %d)", MaxJourneys, len(js))
	}
	names := map[string]string{}
	requestSteps := 0
	for i := range js {
		c.journey(&js[i], i, names, &requestSteps)
	}
}

func (c *checker) journey(j *Journey, i int, names map[string]string, requestSteps *int) {
	path := indexPath("journeys", i)
	namePath := joinPath(path, "name")
	switch {
	case j.Name == "" && !c.set(namePath) && !c.src.nullAt(namePath):
		c.missing(path, "name")
	case strings.TrimSpace(j.Name) == "":
		c.add(namePath, "name must not be empty")
	case strings.Contains(j.Name, "/"):
		c.add(namePath, "journey name must not contain \"/\" (got %q): steps are reported as JOURNEY/STEP", j.Name)
	default:
		c.noControl(namePath, j.Name)
	}
	c.journeyNames[i] = j.Name
	if strings.TrimSpace(j.Name) != "" {
		c.unique("journey", j.Name, c.written(namePath, path), names)
	}

	weightPath := joinPath(path, "weight")
	switch w := j.Weight; {
	case math.IsNaN(w) || w < 0 || (w == 0 && c.set(weightPath)):
		c.add(weightPath, "weight must be > 0 (got %s)", formatNumber(w))
	case math.IsInf(w, 0):
		c.add(weightPath, "weight must be finite")
	}
	onErrPath := joinPath(path, "on_error")
	if j.OnError != "" || c.set(onErrPath) {
		if j.OnError != OnErrorAbort && j.OnError != OnErrorContinue {
			c.add(onErrPath, "unknown on_error %q (want abort or continue)", j.OnError)
		}
	}

	stepsPath := joinPath(path, "steps")
	c.stepNames[i] = make([]string, len(j.Steps))
	c.stepCompiled[i] = make([]Compiled, len(j.Steps))
	if len(j.Steps) == 0 {
		c.addAt(c.written(stepsPath, path), stepsPath, "journey %q has no steps (want at least one request step)", j.Name)
		return
	}

	// First the names and the variables, which later steps' templates
	// and the thresholds refer to.
	scope := &varScope{journey: j.Name, first: map[string]int{},
		stepName: c.stepNames[i], stepPath: make([]string, len(j.Steps))}
	hasRequest := false
	for k := range j.Steps {
		st := &j.Steps[k]
		sp := indexPath(stepsPath, k)
		scope.stepPath[k] = sp
		if c.isThink(sp, st) {
			continue
		}
		hasRequest = true
		if *requestSteps++; *requestSteps == MaxJourneySteps+1 {
			c.add(sp, "at most %d request steps are allowed in all journeys together: each keeps its own histograms on every agent", MaxJourneySteps)
		}
		withDefaults := st.Request
		withDefaults.applyDefaults()
		c.stepNames[i][k] = withDefaults.Name
		for _, x := range st.Extract {
			if _, seen := scope.first[x.Var]; !seen && template.ValidVarName(x.Var) {
				scope.first[x.Var] = k
			}
		}
	}
	if !hasRequest {
		c.add(stepsPath, "journey %q has only think steps (want at least one request step)", j.Name)
	}

	stepNames := map[string]string{}
	for k := range j.Steps {
		scope.step = k
		c.step(j, i, k, scope, stepNames)
	}
}

// isThink reports whether a step is a think step: think was written (even
// as null) or set.
func (c *checker) isThink(path string, st *JourneyStep) bool {
	return st.Think != nil || c.src.nullAt(joinPath(path, "think"))
}

// stepFields are the YAML fields of a step other than think.
var stepFields = func() []field {
	var fs []field
	for _, f := range structFields(reflect.TypeFor[JourneyStep]()) {
		if f.name != "think" {
			fs = append(fs, f)
		}
	}
	return fs
}()

func (c *checker) step(j *Journey, i, k int, scope *varScope, names map[string]string) {
	st := &j.Steps[k]
	path := scope.stepPath[k]
	thinkPath := joinPath(path, "think")
	if c.isThink(path, st) {
		// A think step is think and nothing else.
		v := reflect.ValueOf(st).Elem()
		var extra []string
		for _, f := range stepFields {
			if c.set(joinPath(path, f.name)) || !v.FieldByIndex(f.index).IsZero() {
				extra = append(extra, f.name)
			}
		}
		if len(extra) > 0 {
			c.addKey(c.written(joinPath(path, extra[0]), path),
				"a step is a request or a think, not both: think cannot go with %s", strings.Join(extra, ", "))
		}
		c.think(thinkPath, st.Think)
		return
	}

	weightPath := joinPath(path, "weight")
	if st.Weight != 0 || c.set(weightPath) {
		c.addKey(c.written(weightPath, path), "weight is not allowed in a step (steps run in order; set the journey's weight)")
	}
	c.stepCompiled[i][k] = c.requestFields(path, &st.Request, scope)
	cp := &c.stepCompiled[i][k]

	loopPath := joinPath(path, "loop")
	if st.Loop != 0 || c.set(loopPath) {
		if st.Loop < 1 || st.Loop > MaxLoop {
			c.add(loopPath, "loop must be from 1 to %d (got %d)", MaxLoop, st.Loop)
		}
	}

	extractPath := joinPath(path, "extract")
	if len(st.Extract) > 0 {
		cp.Extract = make([]*extract.Extractor, len(st.Extract))
	}
	for n, x := range st.Extract {
		xp := keyPath(extractPath, x.Var)
		if !template.ValidVarName(x.Var) {
			c.addKey(xp, "invalid variable name %q (want a letter or _, then letters, digits or _)", x.Var)
		}
		if c.emptyFields(xp, "json", "header", "regex", "cookie") {
			continue
		}
		ex, err := extract.Compile(x.Spec)
		if err != nil {
			c.specProblem(xp, x.Spec.JSON, "extraction", err)
			continue
		}
		cp.Extract[n] = ex
	}

	namePath := joinPath(path, "name")
	if st.Name != "" {
		c.noControl(namePath, st.Name)
	}
	c.unique("step", c.stepNames[i][k], c.written(namePath, path), names)
}

// think checks a think time's values.
func (c *checker) think(path string, t *Think) {
	if t == nil {
		c.add(path, "think must be %s", thinkForms)
		return
	}
	bound := func(p string, d Duration, positive bool) bool {
		switch {
		case d < 0 || (positive && d == 0):
			want := ">= 0"
			if positive {
				want = "> 0"
			}
			c.add(p, "think time must be %s (got %s)", want, d)
		case d > MaxThink:
			c.add(p, "think time must be at most %s (got %s)", MaxThink, d)
		default:
			return true
		}
		return false
	}
	switch t.Dist {
	case ThinkFixed:
		bound(path, t.Fixed, false)
	case ThinkUniform:
		up := joinPath(path, ThinkUniform)
		okMin := bound(c.written(indexPath(up, 0), up), t.Min, false)
		okMax := bound(c.written(indexPath(up, 1), up), t.Max, false)
		if okMin && okMax && t.Min > t.Max {
			c.add(up, "uniform think time must be [MIN, MAX] with MIN <= MAX (got [%s, %s])", t.Min, t.Max)
		}
	case ThinkExponential:
		bound(c.written(joinPath(path, ThinkExponential), path), t.Mean, true)
	default:
		c.add(path, "unknown think distribution %q (want %s, %s or %s)", t.Dist, ThinkFixed, ThinkUniform, ThinkExponential)
	}
}

// checks compiles the checks of a request or step.
func (c *checker) checks(path string, checks []Check) []*extract.Check {
	if len(checks) == 0 {
		return nil
	}
	out := make([]*extract.Check, len(checks))
	names := map[string]string{} // a failed check is reported by its name
	for n, spec := range checks {
		p := indexPath(path, n)
		if spec.Name != "" {
			c.noControl(joinPath(p, "name"), spec.Name)
		}
		if c.emptyFields(p, "body_contains", "body_not_contains", "json", "header", "matches") {
			continue
		}
		ch, err := extract.CompileCheck(spec)
		if err != nil {
			c.specProblem(p, spec.JSON, "check", err)
			continue
		}
		out[n] = ch
		c.unique("check", ch.Name(), c.written(joinPath(p, "name"), p), names)
	}
	return out
}

// emptyFields reports the string fields of the map at path that were
// written empty ("" means unset to the extract package, which would then
// say something confusing), and whether there were any.
func (c *checker) emptyFields(path string, fields ...string) bool {
	found := false
	for _, f := range fields {
		fp := joinPath(path, f)
		if c.src != nil {
			if l, ok := c.src.locs[fp]; ok && (l.null || isEmptyString(l.str)) {
				c.add(fp, "%s must not be empty", f)
				found = true
			}
		}
	}
	return found
}

func isEmptyString(n ast.Node) bool {
	if n == nil {
		return false
	}
	text, ok := scalarText(n)
	return ok && text == ""
}

// specProblem reports an extract.Compile or CompileCheck error at the
// field it is about: inside the JSON path at the character for a path
// syntax error.
func (c *checker) specProblem(path, jsonPath, what string, err error) {
	var pe *extract.PathError
	if errors.As(err, &pe) {
		c.addIn(joinPath(path, "json"), jsonPath, pe.Offset, "invalid JSON path: %s", pe.Msg)
		return
	}
	var se *extract.SpecError
	if errors.As(err, &se) && se.Field != "" {
		c.add(joinPath(path, se.Field), "invalid %s: %s", what, se.Msg)
		return
	}
	msg := err.Error()
	if se != nil {
		msg = se.Msg
	}
	c.add(path, "invalid %s: %s", what, msg)
}
