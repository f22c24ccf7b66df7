package version_test

import (
	"fmt"
	"runtime/debug"

	"github.com/surgeload/surge/internal/version"
)

func ExampleFromBuildInfo() {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/surgeload/surge", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "9f45ccd0123456789abc"}, {Key: "vcs.modified", Value: "false"},
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}}
	fmt.Println("coordinator", version.FromBuildInfo(bi, true, ""))
	// Output: coordinator v1.2.3 (commit 9f45ccd01234) go1.26.8 linux/amd64
}
