package probe

import (
	"testing"
	"time"

	"github.com/surgeload/surge/targets"
)

// TestProbeEcho: the bundled echo target has no components; a probe of it
// reads none, with no error (the coordinator would warn on one).
func TestProbeEcho(t *testing.T) {
	srv, err := targets.Start("echo", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := Start(srv.URL, time.Now(), 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	got, err := p.Stop()
	if err != nil || len(got.Loads) != 0 || got.HitRate != nil {
		t.Errorf("probe of echo: %+v, %v; want no components and no error", got, err)
	}
}
