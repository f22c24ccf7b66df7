package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A job whose gate refuses stops before the refused arrival is sent: it
// is neither issued nor counted as intended, and the summary says why.
func TestGateStopsBeforeSending(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer srv.Close()
	errLease := errors.New("lease expired")
	var calls atomic.Int64
	j := newJob(t, srv.URL, job{rate: 1000, d: time.Hour})
	j.Gate = func() error {
		if calls.Add(1) > 25 {
			return errLease
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, total, _ := collect(t, New(DefaultConfig()), ctx, j)
	tot := total.Totals()
	if sum.Stopped != errLease.Error() {
		t.Errorf("stopped %q, want %q", sum.Stopped, errLease)
	}
	if tot.Intended != 25 || tot.Issued != 25 {
		t.Errorf("intended %d issued %d, want exactly the 25 arrivals the gate let through", tot.Intended, tot.Issued)
	}
	if tot.Completed()+sum.InFlightAtEnd != 25 {
		t.Errorf("completed %d + in flight at end %d, want 25", tot.Completed(), sum.InFlightAtEnd)
	}
	if got := seen.Load(); got > 25 {
		t.Errorf("target saw %d requests, more than the 25 issued", got)
	}
}
