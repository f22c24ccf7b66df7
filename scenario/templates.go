package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/surgeload/surge/internal/template"
)

// templateKind says where a template is used, which decides how its
// rendered value is checked.
type templateKind int

const (
	usePath templateKind = iota
	useURL
	useHeader
	useBody
)

// templateUse is one compiled template of a request and where it was
// written.
type templateUse struct {
	path string // of the string in the scenario
	raw  string
	t    *template.Template
	kind templateKind
}

// template compiles the template raw written at path and reports a syntax
// error at its character. It returns nil on error.
func (c *checker) template(path, raw string, kind templateKind) *template.Template {
	t, err := template.Parse(raw)
	if err != nil {
		var te *template.Error
		if errors.As(err, &te) {
			c.addIn(path, raw, te.Offset, "invalid template: %s", te.Msg)
		} else {
			c.add(path, "invalid template: %v", err)
		}
		return nil
	}
	c.uses = append(c.uses, templateUse{path: path, raw: raw, t: t, kind: kind})
	return t
}

// templates loads the data files the templates name, checks that every
// file, column and field they use exists, and checks what the templates
// render to: a path, URL or header value that is a template cannot be
// checked as written, so its value for the first arrival is checked
// instead (the literal parts are the same for every arrival; the drawn
// values may differ, which the engine checks per request).
func (c *checker) templates() {
	for _, u := range c.uses {
		for _, ref := range u.t.Refs() {
			c.loadData(u, ref)
		}
	}
	for _, u := range c.uses {
		ready := true
		for _, f := range u.t.Files() {
			ready = ready && c.data[f] != nil
		}
		if !ready {
			continue // the file's problem is reported
		}
		if err := u.t.CheckData(c.data); err != nil {
			c.dataProblems(u, err)
			continue
		}
		c.rendered(u)
	}
}

// dataProblems reports the problems of CheckData at their characters.
func (c *checker) dataProblems(u templateUse, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var te *template.Error
		if errors.As(e, &te) {
			c.addIn(u.path, u.raw, te.Offset, "%s", te.Msg)
		} else {
			c.add(u.path, "%v", e)
		}
	}
}

// rendered checks the value of a template: the value itself when it is
// static, else the value for the first arrival.
func (c *checker) rendered(u templateUse) {
	static := u.t.Static()
	// The start of a path or URL must be literal text: a template there
	// could make every arrival go somewhere else.
	switch lower := strings.ToLower(u.raw); {
	case static:
	case u.kind == usePath && !strings.HasPrefix(u.raw, "/"):
		c.add(u.path, "path must start with \"/\" (got %q)", u.raw)
		return
	case u.kind == useURL && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://"):
		c.add(u.path, "url must start with http:// or https:// (got %q)", u.raw)
		return
	}
	v := u.t.Render(c.seed, 0, c.data)
	var msg string
	switch u.kind {
	case usePath:
		msg = requestTarget(v)
	case useURL:
		msg = requestURL(v)
	case useHeader:
		if !httpguts.ValidHeaderFieldValue(v) { // no control character but tab (RFC 9110 §5.5)
			msg = fmt.Sprintf("header %q has a control character in its value", headerName(u.path))
		}
	}
	if msg == "" {
		return
	}
	if !static {
		msg = "for the first arrival, " + msg
	}
	c.add(u.path, "%s", msg)
}

// headerName extracts the header name from the path of a header value.
func headerName(path string) string {
	parent := parentPath(path)
	name := strings.TrimSuffix(strings.TrimPrefix(path[len(parent):], "["), "]")
	if s, err := strconv.Unquote(name); err == nil {
		return s
	}
	return name
}

// loadData loads the data file of one reference, once per file, and
// reports a file that cannot be used at the reference's FILE argument.
func (c *checker) loadData(u templateUse, ref template.Ref) {
	name := ref.File
	if c.tried[name] {
		return
	}
	c.tried[name] = true
	if t := c.loaded[name]; t != nil { // Validate of a parsed scenario
		c.data[name] = t
		return
	}
	fail := func(format string, args ...any) {
		c.addIn(u.path, u.raw, ref.FileOffset, format, args...)
	}
	if !filepath.IsLocal(name) {
		fail("data file %q must be a relative path inside the scenario's directory", name)
		return
	}
	if c.opts.ReadFile == nil {
		fail("data file %q cannot be read: data files need Load (or Options.ReadFile)", name)
		return
	}
	b, err := c.opts.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its text repeats the name
		}
		fail("cannot read data file %q: %v", name, err)
		return
	}
	if len(b) > MaxDataFileSize {
		fail("data file %q is larger than the %d MiB limit", name, MaxDataFileSize>>20)
		return
	}
	if c.dataSize += len(b); c.dataSize > MaxDataSize {
		fail("data files are larger than the %d MiB limit in total (with %q)", MaxDataSize>>20, name)
		return
	}
	load := template.LoadCSV
	if ref.Func == "jsonl" {
		load = template.LoadJSONL
	}
	t, err := load(name, bytes.NewReader(b), MaxDataFileSize)
	if err != nil {
		fail("invalid data file %v", err)
		return
	}
	c.data[name] = t
}
