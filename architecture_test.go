package surge_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/surgeload/surge"

// goPackage is what `go list -json` says of a package.
type goPackage struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

func under(path, dir string) bool {
	p := module + "/" + dir
	return path == p || strings.HasPrefix(path, p+"/")
}

// TestArchitecture checks the dependency rules of the architecture page
// on what `go list` reports: dependencies flow one way.
func TestArchitecture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	// The load-generation side: what a target must never need.
	loadSide := []string{"internal/engine", "internal/agent", "internal/coordinator", "internal/cluster", "internal/wire",
		"internal/schedule", "internal/stages", "internal/judge", "internal/report", "internal/h1", "proto"}
	// Pure packages: no processes, no gossip or RPC, and none of the
	// packages that run goroutines. (net/http is allowed for its types:
	// http.Header, CanonicalHeaderKey.)
	pure := []string{"internal/schedule", "internal/metrics", "internal/capacity", "scenario", "internal/stages",
		"internal/judge", "internal/report", "internal/predict"}
	impure := []string{"os/exec", "google.golang.org/grpc", "github.com/hashicorp/memberlist", module + "/internal/coordinator",
		module + "/internal/agent", module + "/internal/cluster", module + "/internal/probe", module + "/internal/livemetrics"}
	for _, p := range listPackages(t) {
		for _, d := range p.Deps {
			if under(d, "cmd") {
				t.Errorf("%s depends on %s: nothing imports cmd/", p.ImportPath, d)
			}
			if under(p.ImportPath, "reporters") && under(d, "internal/engine") {
				t.Errorf("%s depends on %s: reporters never import the engine", p.ImportPath, d)
			}
			if under(p.ImportPath, "targets") {
				for _, l := range loadSide {
					if under(d, l) {
						t.Errorf("%s depends on %s: a target must be usable alone", p.ImportPath, d)
					}
				}
			}
		}
		for _, dir := range pure {
			if !under(p.ImportPath, dir) {
				continue
			}
			for _, d := range p.Deps {
				if slices.Contains(impure, d) {
					t.Errorf("%s depends on %s: pure packages have no goroutines, processes or sockets", p.ImportPath, d)
				}
			}
		}
		if under(p.ImportPath, "internal/coordinator") {
			for _, imp := range p.Imports {
				if imp == module {
					t.Errorf("internal/coordinator imports the public package: it is the other way round")
				}
			}
		}
	}
}
