package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Tag, when set at link time, overrides the module version (see the
// package documentation). Empty by default.
var Tag string

// ShortRevision is how many hex digits of the commit hash are shown.
const ShortRevision = 12

// Info is one build's identity.
type Info struct {
	// Module is the main module's path (github.com/surgeload/surge).
	Module string
	// Version is the module version: a tag like v1.2.3 or a
	// pseudo-version for `go install`, "(devel)" for a build from a
	// checkout, or Tag when it is set.
	Version string
	// Revision is the commit the build was made from, shortened to
	// ShortRevision digits; empty when the build has no VCS information
	// (go run, -buildvcs=false, a tarball without .git).
	Revision string
	// Modified is true when the work tree had uncommitted changes.
	Modified bool
	// Time is the commit's time (RFC 3339, UTC), empty when unknown.
	Time string
	// GoVersion is the toolchain that built the binary (go1.26.8).
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

// Get reads the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return FromBuildInfo(bi, ok, Tag)
}

// FromBuildInfo turns build information (ok false: none, as in a binary
// built without module support) into an Info; tag, when not empty,
// overrides the module version.
func FromBuildInfo(bi *debug.BuildInfo, ok bool, tag string) Info {
	i := Info{Version: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		i.Module = bi.Main.Path
		if bi.Main.Version != "" {
			i.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
				if len(i.Revision) > ShortRevision {
					i.Revision = i.Revision[:ShortRevision]
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			case "vcs.time":
				i.Time = s.Value
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			i.Platform = goos + "/" + goarch
		}
	}
	if tag != "" {
		i.Version = tag
	}
	return i
}

// String is the one line --version prints, after the program's name:
// "v1.2.3 (commit 0123456789ab+dirty, 2026-12-06T17:00:00Z) go1.26.8 linux/amd64".
// The parenthesis is left out when the build has no VCS information.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	if i.Revision != "" {
		fmt.Fprintf(&b, " (commit %s", i.Revision)
		if i.Modified {
			b.WriteString("+dirty")
		}
		if i.Time != "" {
			b.WriteString(", " + i.Time)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s", i.GoVersion, i.Platform)
	return b.String()
}

// Line is what `PROGRAM --version` prints: the program's name and the
// build, with a newline.
func Line(program string) string { return program + " " + Get().String() + "\n" }
