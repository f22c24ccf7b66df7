//go:build unix

package h1

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports the process's CPU time (user + system: client, server
// and runtime together) per operation, as "cpu-ns/op": on loopback,
// ns/op is mostly waiting for the other side.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

func (m cpuMeter) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
