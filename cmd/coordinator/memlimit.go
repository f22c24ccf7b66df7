package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is run's --memory-limit: the coordinator's memory is
// bounded by design (about 2 KB per interval per request name for the
// whole stage, the report's entries sharing its histograms), but Go's
// collector lets the heap grow to twice what is live between collections,
// and each interval's merge, encoding and decoding churns megabytes of
// short-lived histograms, so without a limit the RSS of a day-long stage
// settles at 2.5–3× its live data. The soft limit makes the collector
// run and return memory before that (bench/SOAK.md measures a 24 h day
// at 1k req/s under it).
const defaultMemoryLimit = "400MiB"

// byteSize is a flag value of bytes with an optional binary (KiB, MiB,
// GiB, TiB) or decimal (KB, MB, GB, TB) unit, as GOMEMLIMIT writes them;
// 0 is none.
type byteSize int64

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v == 0:
		return "0"
	case v%(1<<30) == 0:
		return strconv.FormatInt(v>>30, 10) + "GiB"
	case v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "MiB"
	default:
		return strconv.FormatInt(v, 10)
	}
}

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func (*byteSize) Type() string { return "bytes" }

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseByteSize reads "400MiB", "2GB", "1048576" or "0".
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size in bytes (like 400MiB, 2GiB or 0)", s)
	}
	return n * mult, nil
}

// applyMemoryLimit sets the process's soft memory limit, unless the
// environment's GOMEMLIMIT already set one (which wins). It returns what
// was applied, 0 for none.
func applyMemoryLimit(limit int64) int64 {
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	debug.SetMemoryLimit(limit)
	return limit
}
