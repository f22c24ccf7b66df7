package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse checks the properties every input must have: Parse never
// panics; an error matches ErrInvalid and is one "FILE:LINE:COL: message"
// (or "FILE: message") per line; a scenario that parses is valid, has its
// defaults applied and survives ApplyDefaults unchanged.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/bad/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte("name: a\nstages: [&s {bundled: echo}, *s]\nrequests: [{headers: {A: b}}]\nload: {constant: {rate: 1/m, duration: 1h}}\n"))
	f.Add([]byte("a: b: c"))
	f.Add([]byte(""))

	line := regexp.MustCompile(`^f\.yaml(:[1-9][0-9]*:[1-9][0-9]*)?: \S`)
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.yaml", src, Options{})
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a scenario and an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) > maxProblems+1 {
				t.Fatalf("%d error lines; want at most %d", len(lines), maxProblems+1)
			}
			for _, l := range lines {
				if !line.MatchString(l) {
					t.Fatalf("error line %q is not FILE:LINE:COL: message", l)
				}
			}
			return
		}
		if err := s.Validate(Options{}); err != nil {
			t.Fatalf("Parse succeeded but Validate failed: %v", err)
		}
		again := *s
		again.Stages = append([]Stage(nil), s.Stages...)
		again.Requests = append([]Request(nil), s.Requests...)
		again.ApplyDefaults()
		if !reflect.DeepEqual(&again, s) {
			t.Fatalf("ApplyDefaults changed a parsed scenario")
		}
		for _, st := range s.Stages {
			if st.Name == "" {
				t.Fatalf("stage without a name: %+v", st)
			}
		}
		for _, r := range s.Requests {
			if r.Name == "" || r.Method == "" || !strings.HasPrefix(r.Path, "/") {
				t.Fatalf("request without defaults: %+v", r)
			}
		}
	})
}
