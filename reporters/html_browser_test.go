//go:build browser

package reporters

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browserDir is where TestHTMLInBrowser leaves report.html, the dumped DOM
// and the screenshot for a person to look at.
const browserDir = "/tmp/surge-browser-test"

// chromium runs headless Chromium on page with extra flags, with every
// network fetch sent to a closed port (only file:// and loopback work),
// and returns its stdout and stderr.
func chromium(t *testing.T, page string, extra ...string) (stdout, stderr string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run scripts/install-chromium.sh (make browser-test does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := append([]string{
		"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + filepath.Join(t.TempDir(), "profile"),
		"--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
		"--enable-logging=stderr", "--v=0",
	}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleErrors are the lines of Chromium's log that report a script error
// or an error logged to the page's console.
func consoleErrors(log string) []string {
	var bad []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "CONSOLE") && (strings.Contains(line, "ERROR") || strings.Contains(line, "Uncaught")) {
			bad = append(bad, line)
		}
	}
	return bad
}

// TestHTMLInBrowser renders the fixed model's report.html in headless
// Chromium without network access and checks that every chart rendered
// with data and no script failed. make browser-test runs it.
func TestHTMLInBrowser(t *testing.T) {
	r := htmlReport(t)
	if err := os.MkdirAll(browserDir, 0o755); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(browserDir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, log := chromium(t, page, "--dump-dom")
	if err := os.WriteFile(filepath.Join(browserDir, "dom.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, "</svg>") || !strings.Contains(dom, "Surge report: golden") {
		t.Fatalf("the dumped DOM is not the report (%d bytes):\n%.2000s", len(dom), dom)
	}
	if m := regexp.MustCompile(`<html[^>]*data-js-error="[^"]*"`).FindString(dom); m != "" {
		t.Errorf("a script failed in the page: %s", m)
	}
	if bad := consoleErrors(log); len(bad) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(bad, "\n"))
	}
	charts := map[string]int{}
	for _, m := range regexp.MustCompile(`<svg data-chart="([^"]+)" data-stage="([^"]+)" data-points="(\d+)"`).FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.Atoi(m[3])
		charts[m[1]+"/"+m[2]] = n
	}
	want := []string{"spectrum/all"}
	for i := range r.Stages {
		for _, name := range []string{"throughput", "latency", "distribution", "errors"} {
			want = append(want, name+"/"+strconv.Itoa(i))
		}
	}
	for _, k := range want {
		if n, ok := charts[k]; !ok || n == 0 {
			t.Errorf("chart %s in the rendered DOM: present %v with %d points", k, ok, n)
		}
	}
	if len(charts) != len(want) {
		t.Errorf("%d charts in the rendered DOM, want %d: %v", len(charts), len(want), charts)
	}

	shot := filepath.Join(browserDir, "report.png")
	_ = os.Remove(shot)
	_, log = chromium(t, page, "--screenshot="+shot, "--window-size=1400,3000", "--hide-scrollbars")
	if bad := consoleErrors(log); len(bad) > 0 {
		t.Errorf("console errors while taking the screenshot:\n%s", strings.Join(bad, "\n"))
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("report: %s", page)
	t.Logf("screenshot: %s", shot)
	t.Logf("%d charts rendered with data: %v", len(charts), charts)
}
