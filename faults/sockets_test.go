//go:build linux

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// socketPorts returns the local ports of process pid's TCP connections
// whose remote port is remotePort: its sockets' inodes from
// /proc/PID/fd, matched against /proc/PID/net/tcp and tcp6 (the tables of
// the process's own network namespace).
func socketPorts(pid int, remotePort uint16) (map[uint16]bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, fmt.Errorf("socket ports of pid %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	ports := map[uint16]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, fmt.Errorf("socket ports of pid %d: %w", pid, err)
		}
		for _, p := range parseTCPTable(string(b), inodes, remotePort) {
			ports[p] = true
		}
	}
	return ports, nil
}

// parseTCPTable reads a /proc/net/tcp{,6} table and returns the local
// ports of its entries whose inode is in inodes and whose remote port is
// remotePort. A line is
//
//	sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
//
// with addresses as HEXIP:HEXPORT.
func parseTCPTable(table string, inodes map[string]bool, remotePort uint16) []uint16 {
	var ports []uint16
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) < 10 || !inodes[f[9]] {
			continue
		}
		local, rem := hexPort(f[1]), hexPort(f[2])
		if local < 0 || rem != int(remotePort) {
			continue
		}
		ports = append(ports, uint16(local))
	}
	return ports
}

// hexPort is the port of HEXIP:HEXPORT, or -1.
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

func TestParseTCPTable(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A3F1 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 20 4 30 10 -1
   1: 0100007F:A3F2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:A3F3 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:A3F4 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:ZZZZ 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 20 4 30 10 -1
`
	all := map[string]bool{"1111": true, "2222": true, "3333": true, "4444": true, "5555": true}
	for _, tc := range []struct {
		name   string
		inodes map[string]bool
		remote uint16
		want   []uint16
	}{
		{"every connection to 8080", all, 8080, []uint16{0xA3F1, 0xA3F2}},
		{"only our inodes", map[string]bool{"2222": true}, 8080, []uint16{0xA3F2}},
		{"another remote port", all, 80, []uint16{0xA3F4}},
		{"no inode", map[string]bool{}, 8080, nil},
		{"the header is no entry", map[string]bool{"inode": true}, 8080, nil},
	} {
		got := parseTCPTable(table, tc.inodes, tc.remote)
		slices.Sort(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parseTCPTable(inodes %v, remote %d) = %v; want %v", tc.name, tc.inodes, tc.remote, got, tc.want)
		}
	}
}
