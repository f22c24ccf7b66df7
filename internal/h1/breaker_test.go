package h1

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// TestReadResponseBreaker: the X-Surge-Breaker field is found, in any
// case and with optional whitespace, only with the value "open"; an
// overlong value is skipped, not an error.
func TestReadResponseBreaker(t *testing.T) {
	long := strings.Repeat("x", 8<<10)
	for _, tc := range []struct {
		field string
		want  bool
	}{
		{"X-Surge-Breaker: open", true},
		{"x-surge-breaker:OPEN", true},
		{"X-SURGE-BREAKER: \topen\t", true},
		{"X-Surge-Breaker: closed", false},
		{"X-Surge-Breaker: opened", false},
		{"X-Surge-Breakers: open", false},
		{"X-Surge-Breaker: " + long, false},
		{"X-Other: open", false},
	} {
		in := "HTTP/1.1 503 Service Unavailable\r\n" + tc.field + "\r\nContent-Length: 2\r\n\r\nno"
		br := bufio.NewReaderSize(strings.NewReader(in), 4096)
		r, err := readResponse(br, false, 64<<10, 1<<20, false)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%.40q: %v", tc.field, err)
		}
		if err != nil || r.status != 503 || r.bodyBytes != 2 || r.breaker != tc.want {
			t.Errorf("%.40q: status %d, body %d, breaker %v, err %v; want 503, 2, %v, nil", tc.field, r.status, r.bodyBytes, r.breaker, err, tc.want)
		}
	}
}
