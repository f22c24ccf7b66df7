package stages

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/scenario"
)

func TestStageSearchChecks(t *testing.T) {
	sc := mustParse(t, `name: s
stages:
  - url: http://127.0.0.1:1
  - {url: "http://127.0.0.1:2", mode: capacity, search: {start: 10/s, max: 100/s, hold: 1s}}
requests: [{name: a}]
load: {constant: {rate: 1, duration: 1s}}
safety: {max_rate: 1k/s, max_duration: 1m}
`)
	if s, err := Search(sc, 1, SearchOverrides{}); err != nil || s.Start != 10 || s.Max != 100 || s.Step != 10 || s.Method != "binary" || len(s.Parsed) != 2 {
		t.Errorf("Search = %+v, %v", s, err)
	}
	if s, err := Search(sc, 1, SearchOverrides{Start: 20, Max: 500, SLO: []string{"p90 < 1s"}, Method: "step"}); err != nil ||
		s.Start != 20 || s.Max != 500 || s.Method != "step" || s.Parsed[0].Metric != "p90" {
		t.Errorf("Search with overrides = %+v, %v", s, err)
	}
	bad := []struct {
		k    int
		o    SearchOverrides
		want string
	}{
		{0, SearchOverrides{}, "needs a start rate"},
		{1, SearchOverrides{Max: 5}, "must be above start"},
		{1, SearchOverrides{Max: 2000}, "exceed safety.max_rate"},
		{1, SearchOverrides{SLO: []string{"p99 <"}}, "--slo"},
		{1, SearchOverrides{SLO: []string{"p99[10s] < 1s"}}, "takes no window"},
		{1, SearchOverrides{SLO: []string{"p99{request=zz} < 1s"}}, `no request is named "zz"`},
		{1, SearchOverrides{Method: "golden"}, "unknown search method"},
		{1, SearchOverrides{Hold: 10 * time.Second, MaxSteps: 12}, "over safety.max_duration"},
	}
	for _, b := range bad {
		_, err := Search(sc, b.k, b.o)
		if err == nil || !errors.Is(err, scenario.ErrInvalid) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Search(%d, %+v) = %v; want ErrInvalid with %q", b.k, b.o, err, b.want)
		}
	}
}
