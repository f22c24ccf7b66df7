package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJUnitOfRealRunsMatchesSchemas: junit.xml of real runs (embedded
// agents, bundled targets, loopback) of the kinds a CI system meets — a
// capacity search with failing thresholds, journeys with steps, and a run
// an abort threshold stopped — is valid under the Jenkins and the strict
// Ant JUnit schemas (reporters/testdata/junit; make test installs
// xmllint), and holds what it should of each.
func TestJUnitOfRealRunsMatchesSchemas(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed: run scripts/install-xmllint.sh (make test does)")
	}
	journeys := `name: journeys
stages:
  - bundled: echo
journeys:
  - name: browse
    steps:
      - {name: home, path: /}
      - {name: item, path: "/items/{{seq}}"}
load:
  constant: {rate: 20, duration: 1s}
`
	abort := `name: abort
stages:
  - bundled: echo
requests:
  - {name: get, path: /items/1}
load:
  constant: {rate: 100, duration: 10s}
thresholds: [{expr: "max < 1ns", abort: true}]
`
	for _, tc := range []struct {
		name, scenario string
		code           int
		want           []string // in junit.xml
	}{
		{"capacity search, failing thresholds", schemaRun, 1, []string{`type="threshold"`, "capacity search ", `classname="run"`}},
		{"journeys with steps", journeys, 0, []string{`name="journey browse"`, `name="step browse/item"`, "stage echo: journey browse: issued 20"}},
		{"aborted", abort, 1, []string{`type="aborted"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := runCLI(t, "run", writeFile(t, "s.yaml", tc.scenario), "--gossip-listen", "127.0.0.1:0", "--out", out,
				"-q", "--max-send-lag", "1s", "--format", "json,junit")
			if code != tc.code {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			file := filepath.Join(out, "junit.xml")
			doc, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, xsd := range []string{"jenkins-junit-10.xsd", "ant-JUnit.xsd"} {
				schema := filepath.Join("..", "..", "reporters", "testdata", "junit", xsd)
				if msg, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", schema, file).CombinedOutput(); err != nil {
					t.Errorf("junit.xml is not valid under %s: %v\n%s", xsd, err, msg)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(string(doc), w) {
					t.Errorf("junit.xml lacks %q:\n%s", w, doc)
				}
			}
		})
	}
}
