package main

import "testing"

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"400MiB", 400 << 20, true}, {"2GiB", 2 << 30, true}, {"500MB", 500e6, true}, {"1048576", 1 << 20, true},
		{"0", 0, true}, {" 3 KiB ", 3 << 10, true}, {"12B", 12, true},
		{"", 0, false}, {"-1MiB", 0, false}, {"lots", 0, false}, {"1.5GiB", 0, false}, {"9999999999TiB", 0, false},
	} {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	var b byteSize
	if err := b.Set(defaultMemoryLimit); err != nil || b.String() != defaultMemoryLimit {
		t.Errorf("default %q reads back as %q, %v", defaultMemoryLimit, b.String(), err)
	}
}
