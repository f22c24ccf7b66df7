package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		tag  string
		want string
	}{
		{"checkout, dirty", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/surgeload/surge", Version: "(devel)"},
			Settings: settings("vcs.revision", "9f45ccd0123456789abcdef0123456789abcdef0", "vcs.modified", "true", "vcs.time", "2026-12-06T17:00:00Z", "GOOS", "linux", "GOARCH", "amd64")},
			true, "", "(devel) (commit 9f45ccd01234+dirty, 2026-12-06T17:00:00Z) go1.26.8 linux/amd64"},
		{"go install of a tag, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/surgeload/surge", Version: "v1.2.3"},
			Settings: settings("vcs.revision", "abc", "vcs.modified", "false", "GOOS", "darwin", "GOARCH", "arm64")},
			true, "", "v1.2.3 (commit abc) go1.26.8 darwin/arm64"},
		{"no vcs information", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/surgeload/surge", Version: "v0.0.0-20261206170000-9f45ccd01234"},
			Settings: settings("GOOS", "linux", "GOARCH", "arm64")},
			true, "", "v0.0.0-20261206170000-9f45ccd01234 go1.26.8 linux/arm64"},
		{"tag from the linker wins", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "0123456789abcdef", "GOOS", "linux", "GOARCH", "amd64")},
			true, "v2.0.0-rc1", "v2.0.0-rc1 (commit 0123456789ab) go1.26.8 linux/amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(tc.bi, tc.ok, tc.tag).String(); got != tc.want {
				t.Errorf("FromBuildInfo(...).String() = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestFromBuildInfoNone(t *testing.T) {
	i := FromBuildInfo(nil, false, "")
	if i.Version != "unknown" || i.Revision != "" || i.GoVersion == "" || !strings.Contains(i.Platform, "/") {
		t.Errorf("FromBuildInfo(nil, false) = %+v; want version unknown, no revision, this toolchain and platform", i)
	}
}

// TestGet checks what a test binary reports: it is built from the module
// (its main module path is known), and Line names the program.
func TestGet(t *testing.T) {
	i := Get()
	if i.GoVersion == "" || !strings.HasPrefix(i.GoVersion, "go") {
		t.Errorf("Get().GoVersion = %q; want go…", i.GoVersion)
	}
	if l := Line("agent"); !strings.HasPrefix(l, "agent ") || !strings.HasSuffix(l, "\n") || strings.Count(l, "\n") != 1 {
		t.Errorf("Line(agent) = %q; want one line starting with the program name", l)
	}
}
