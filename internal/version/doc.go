// Package version says which build of Surge is running: the module
// version, the commit it was built from and the Go toolchain, read from
// the build information the Go linker embeds (runtime/debug.ReadBuildInfo),
// so that `go install …@v1.2.3`, `go build` in a checkout and `make build`
// all answer --version truthfully without any flag at build time.
//
// It holds no state but Tag, which the build may set with
// -ldflags "-X github.com/surgeload/surge/internal/version.Tag=v1.2.3"
// when the module version alone does not say enough (a checkout's build
// reports "(devel)"). Everything is safe for concurrent use.
package version
