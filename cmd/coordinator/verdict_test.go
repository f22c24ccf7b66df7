package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/exitcode"
)

// TestRunWholesaleFailureFails: an https target whose certificate the
// client does not trust fails every request with tls_error; a scenario
// without thresholds then fails (exit 1) naming the stage, the count and
// the class, rather than passing.
func TestRunWholesaleFailureFails(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // every handshake fails, on purpose
	srv.StartTLS()
	defer srv.Close()
	path := writeFile(t, "tls.yaml", `name: tls
stages: [{name: secure, url: `+srv.URL+`}]
requests: [{path: /}]
load: {constant: {rate: 20, duration: 1s}}
`)
	code, stdout, stderr := runCLI(t, "run", path, "--agents", "1", "--gossip-listen", "127.0.0.1:0", "--out", t.TempDir(), "-q", "--max-send-lag", "1s")
	want := "the run failed: stage secure: no request succeeded (20 of 20 failed, mostly tls_error: 20)"
	if code != exitcode.ThresholdsFailed || !strings.Contains(lastLine(stderr), want) || !strings.Contains(stdout, "verdict: FAIL") {
		t.Errorf("run: exit %d, %q; want %d and %q\n%s", code, lastLine(stderr), exitcode.ThresholdsFailed, want, stdout)
	}
}
