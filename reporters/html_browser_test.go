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
		if r.Stages[i].Phases != (Phases{}) {
			want = append(want, "phases/"+strconv.Itoa(i))
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

	checkLinearToggle(t, b.String())

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

// toggleProbe, added to a copy of the page, reads which layout of each
// log chart the browser shows before and after the "linear latency axes"
// box is ticked, and writes what it saw on the <html> element.
const toggleProbe = `<script>
(function () {
  function shown() {
    var out = [];
    document.querySelectorAll('svg[data-scale="log"]').forEach(function (svg) {
      var lg = svg.querySelector("g.ylog"), ln = svg.querySelector("g.ylin");
      if (!lg || !ln) { out.push("single"); return; }
      var a = getComputedStyle(lg).display !== "none", b = getComputedStyle(ln).display !== "none";
      out.push(a && !b ? "log" : b && !a ? "linear" : "both:" + a + "," + b);
    });
    return out.join(" ");
  }
  var before = shown();
  document.getElementById("linear-y").checked = true;
  document.documentElement.setAttribute("data-toggle", before + " | " + shown());
})();
</script>`

// checkLinearToggle: every log chart shows its log layout alone, and its
// linear one alone once the toggle is ticked (CSS only, no script).
func checkLinearToggle(t *testing.T, page string) {
	t.Helper()
	probe := filepath.Join(browserDir, "toggle.html")
	if err := os.WriteFile(probe, []byte(strings.Replace(page, "</body>", toggleProbe+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := chromium(t, probe, "--dump-dom")
	m := regexp.MustCompile(`data-toggle="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("the toggle probe did not run")
	}
	before, after, _ := strings.Cut(m[1], " | ")
	n := len(regexp.MustCompile(`<svg [^>]*data-scale="log"`).FindAllString(dom, -1))
	if n == 0 || before != strings.TrimSpace(strings.Repeat("log ", n)) || after != strings.TrimSpace(strings.Repeat("linear ", n)) {
		t.Errorf("%d log charts; shown before the toggle %q, after %q", n, before, after)
	}
}
