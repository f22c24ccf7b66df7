package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/surgeload/surge"
)

// pushFlags are run's --push-* flags: where the live metrics are pushed.
type pushFlags struct {
	remoteWrite, otlp, ca string
	interval, timeout     time.Duration
	retries               int
	labels, headers       []string
	insecure              bool
}

func (p *pushFlags) register(f *pflag.FlagSet) {
	d := surge.DefaultPushConfig()
	f.StringVar(&p.remoteWrite, "push-remote-write", "", "push the live metrics (surge_run_*, labelled run_id) with Prometheus remote-write 1.0 to this URL, like http://127.0.0.1:9090/api/v1/write")
	f.StringVar(&p.otlp, "push-otlp", "", "push the live metrics as OTLP/HTTP (protobuf) to this URL, like http://127.0.0.1:4318/v1/metrics")
	f.DurationVar(&p.interval, "push-interval", 0, "time between pushes (default: --interval); one more push carries the final totals")
	f.DurationVar(&p.timeout, "push-timeout", d.Timeout, "bound on one push attempt")
	f.IntVar(&p.retries, "push-retries", d.Retries, "retries of a failed push (network error, 5xx) before it counts as failed; failures never stop the run")
	f.StringArrayVar(&p.labels, "push-label", nil, "name=value label added to every pushed series (repeatable)")
	f.StringArrayVar(&p.headers, "push-header", nil, `"Name: value" header sent with every push, like "Authorization: Bearer TOKEN" (repeatable)`)
	f.StringVar(&p.ca, "push-ca", "", "PEM file of the CAs trusted for an https push URL (default: the system's)")
	f.BoolVar(&p.insecure, "push-insecure-skip-verify", false, "do not verify an https push URL's certificate")
}

// apply sets opts.Push from the flags; failures are printed on stderr as
// they happen.
func (p *pushFlags) apply(opts *surge.Options, stderr io.Writer) error {
	c := surge.DefaultPushConfig()
	c.RemoteWrite, c.OTLP, c.Interval, c.Timeout, c.CAFile, c.InsecureSkipVerify = p.remoteWrite, p.otlp, p.interval, p.timeout, p.ca, p.insecure
	c.Retries = p.retries
	if p.retries == 0 {
		c.Retries = -1 // none
	}
	if !c.Enabled() {
		if len(p.labels) > 0 || len(p.headers) > 0 {
			return fmt.Errorf("--push-label and --push-header need --push-remote-write or --push-otlp")
		}
		return nil
	}
	for _, l := range p.labels {
		k, v, err := surge.ParsePushLabel(l)
		if err != nil {
			return err
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	for _, h := range p.headers {
		k, v, err := surge.ParsePushHeader(h)
		if err != nil {
			return err
		}
		if c.Headers == nil {
			c.Headers = http.Header{}
		}
		c.Headers.Add(k, v)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	c.OnError = func(err error) { fmt.Fprintf(stderr, "warning: %v (the run goes on)\n", err) }
	opts.Push = c
	return nil
}

// reportPush prints the run's push counts on stderr.
func reportPush(stderr io.Writer, st surge.PushStats) {
	if len(st.Pushes) == 0 && len(st.Failures) == 0 {
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st.Pushes)) {
		parts = append(parts, fmt.Sprintf("%s %d ok, %d failed", k, st.Pushes[k], st.Failures[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(st.Failures)) {
		if _, ok := st.Pushes[k]; !ok {
			parts = append(parts, fmt.Sprintf("%s 0 ok, %d failed", k, st.Failures[k]))
		}
	}
	fmt.Fprintf(stderr, "pushed metrics: %s\n", strings.Join(parts, "; "))
}
