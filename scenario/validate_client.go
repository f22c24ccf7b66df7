package scenario

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clients checks the scenario's client block and the stages' own: each
// block's values on their own, then the settings each stage ends up with
// (the blocks merged), where two fields from different blocks may clash.
func (c *checker) clients(s *Scenario) {
	c.clientBlock("client", &s.Client)
	inherits := len(s.Stages) == 0 // some stage plays the top-level block as it is
	for i := range s.Stages {
		if own := s.Stages[i].Client; own != nil {
			c.clientBlock(joinPath(indexPath("stages", i), "client"), own)
		} else {
			inherits = true
		}
	}
	if inherits {
		c.clientCombination(&s.Client, nil, "")
	}
	for i := range s.Stages {
		if own := s.Stages[i].Client; own != nil {
			c.clientCombination(&s.Client, own, joinPath(indexPath("stages", i), "client"))
		}
	}
}

// clientBlock checks the values of one client block, at path.
func (c *checker) clientBlock(path string, cl *Client) {
	field := func(name string) string { return joinPath(path, name) }
	c.enum(field("connections"), "connections", cl.Connections, ConnectionsKeepAlive, ConnectionsPerRequest)
	c.enum(field("protocol"), "protocol", cl.Protocol, ProtocolHTTP1, ProtocolH2)
	c.enum(field("implementation"), "implementation", cl.Implementation, ImplementationSurge, ImplementationNetHTTP)
	c.enum(field("timing"), "timing", cl.Timing, TimingDefault, TimingPrecise)
	c.intRange(field("max_conns"), cl.MaxConns, 0, MaxConns)
	c.intRange(field("follow_redirects"), cl.FollowRedirects, 0, MaxFollowRedirects)
	c.intRange(field("max_in_flight"), cl.MaxInFlight, 1, MaxInFlight)
	for _, d := range []struct {
		name string
		v    *Duration
	}{{"timeout", cl.Timeout}, {"connect_timeout", cl.ConnectTimeout}, {"first_byte_timeout", cl.FirstByteTimeout}} {
		switch p := field(d.name); {
		case d.v == nil:
		case *d.v <= 0:
			c.add(p, "%s must be > 0 (got %s)", d.name, *d.v)
		case *d.v > MaxClientTimeout:
			c.add(p, "%s must be at most %s (got %s)", d.name, MaxClientTimeout, *d.v)
		}
	}
	if b := cl.MaxBody; b != nil && (*b < 1 || *b > MaxBody) {
		c.add(field("max_body"), "max_body must be from 1 byte to %s (got %s)", MaxBody, *b)
	}
	if v := cl.InsecureSkipVerify; v != nil && *v {
		c.warn(field("insecure_skip_verify"), "insecure_skip_verify: the TLS certificates of https targets are not checked, so anyone on the path can pose as the target; use it only against test systems")
	}
	c.sourceAddresses(field("source_addresses"), cl.SourceAddresses)
	c.tlsFiles(path, cl)
}

// tlsContents are the client TLS files of one block, as read.
type tlsContents struct{ ca, cert, key []byte }

// tlsFiles checks the TLS fields of the client block at path: the files
// it names are read by Parse (Validate needs their contents in the block)
// and must hold what they are for: CA certificates, a certificate and the
// private key that matches it. cert_file and key_file come together. What
// was read is kept for apply.
func (c *checker) tlsFiles(path string, cl *Client) {
	field := func(name string) string { return joinPath(path, name) }
	if (cl.CertFile == nil) != (cl.KeyFile == nil) {
		if cl.CertFile != nil {
			c.add(field("cert_file"), "cert_file needs key_file in the same block: a client certificate and its private key, both or neither")
		} else {
			c.add(field("key_file"), "key_file needs cert_file in the same block: a client certificate and its private key, both or neither")
		}
	}
	if sn := cl.ServerName; sn != nil {
		if *sn == "" || len(*sn) > 253 || strings.ContainsAny(*sn, " /:@\t\n") {
			c.add(field("server_name"), "server_name %q must be a host name (what the target's certificate names)", *sn)
		}
	}
	var got tlsContents
	read := func(name string, file *string, have []byte) []byte {
		if file == nil {
			return nil
		}
		if have != nil {
			return have
		}
		if c.src == nil { // Validate: what it read could not be kept
			c.add(field(name), "%s %q: its contents are not set: a Scenario built in code carries them itself (%s); Parse and Load read the file", name, *file, pemField[name])
			return nil
		}
		b, err := c.readTLSFile(*file)
		if err != nil {
			c.add(field(name), "%s %q: %v", name, *file, err)
			return nil
		}
		return b
	}
	got.ca = read("ca_file", cl.CAFile, cl.CAPEM)
	got.cert = read("cert_file", cl.CertFile, cl.CertPEM)
	got.key = read("key_file", cl.KeyFile, cl.KeyPEM)
	if got.ca != nil && !x509.NewCertPool().AppendCertsFromPEM(got.ca) {
		c.add(field("ca_file"), "ca_file %q holds no PEM certificate (want one or more -----BEGIN CERTIFICATE----- blocks)", *cl.CAFile)
	}
	if got.cert != nil && got.key != nil {
		switch _, err := tls.X509KeyPair(got.cert, got.key); {
		case !hasPEM(got.cert, "CERTIFICATE"):
			c.add(field("cert_file"), "cert_file %q holds no PEM certificate", *cl.CertFile)
		case !hasPEM(got.key, "PRIVATE KEY"):
			c.add(field("key_file"), "key_file %q holds no PEM private key", *cl.KeyFile)
		case err != nil:
			c.add(field("key_file"), "key_file %q does not go with cert_file %q: %v", *cl.KeyFile, *cl.CertFile, err)
		}
	}
	if got.ca != nil || got.cert != nil || got.key != nil {
		if c.tlsRead == nil {
			c.tlsRead = map[string]tlsContents{}
		}
		c.tlsRead[path] = got
	}
}

// pemField names the field that holds the contents of each file field.
var pemField = map[string]string{"ca_file": "CAPEM", "cert_file": "CertPEM", "key_file": "KeyPEM"}

// hasPEM reports whether b holds a PEM block whose type ends with kind
// ("CERTIFICATE"; "PRIVATE KEY" matches RSA, EC and PKCS #8 keys).
func hasPEM(b []byte, kind string) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if strings.HasSuffix(blk.Type, kind) {
			return true
		}
	}
}

// readTLSFile reads a client TLS file: an absolute path as it is, a
// relative one with Options.ReadFile (inside the scenario's directory),
// at most MaxTLSFileSize bytes.
func (c *checker) readTLSFile(name string) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case name == "":
		return nil, errors.New("empty file name")
	case filepath.IsAbs(name):
		b, err = readAtMost(name, MaxTLSFileSize+1)
	case !filepath.IsLocal(name):
		return nil, errors.New("must be an absolute path, or a relative path inside the scenario's directory")
	case c.opts.ReadFile == nil:
		return nil, errors.New("cannot be read: a relative path needs Load (or Options.ReadFile)")
	default:
		b, err = c.opts.ReadFile(name)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its text repeats the name
		}
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	if len(b) > MaxTLSFileSize {
		return nil, fmt.Errorf("larger than the %d MiB limit", MaxTLSFileSize>>20)
	}
	if len(b) == 0 {
		return nil, errors.New("the file is empty")
	}
	return b, nil
}

// readAtMost reads up to n bytes of the regular file at path (a FIFO or
// a device could block the check, or never end).
func readAtMost(path string, n int64) ([]byte, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// applyTLS stores the TLS files read into the client blocks they belong
// to (Parse; Validate changes nothing).
func (c *checker) applyTLS(s *Scenario) {
	set := func(cl *Client, got tlsContents) {
		if cl.CAFile != nil && cl.CAPEM == nil {
			cl.CAPEM = got.ca
		}
		if cl.CertFile != nil && cl.CertPEM == nil {
			cl.CertPEM = got.cert
		}
		if cl.KeyFile != nil && cl.KeyPEM == nil {
			cl.KeyPEM = got.key
		}
	}
	if got, ok := c.tlsRead["client"]; ok {
		set(&s.Client, got)
	}
	for i := range s.Stages {
		if got, ok := c.tlsRead[joinPath(indexPath("stages", i), "client")]; ok && s.Stages[i].Client != nil {
			set(s.Stages[i].Client, got)
		}
	}
}

// enum checks the value of an enumeration, if set.
func (c *checker) enum(path, name string, v *string, allowed ...string) {
	if v == nil {
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	c.add(path, "unknown %s %q (want %s or %s)", name, *v, strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1])
}

// intRange checks an integer, if set, against [lo, hi].
func (c *checker) intRange(path string, v *int, lo, hi int) {
	if v != nil && (*v < lo || *v > hi) {
		c.add(path, "%s must be from %d to %d (got %d)", label(path), lo, hi, *v)
	}
}

// sourceAddresses checks client.source_addresses: every entry parses, and
// the expanded list is at most MaxSourceAddresses long and names no
// address twice.
func (c *checker) sourceAddresses(path string, list []string) {
	total, counting := 0, true
	type entry struct{ path, text string }
	seen := map[netip.Addr]entry{} // address → the entry that listed it
	for i, s := range list {
		p := indexPath(path, i)
		pr, err := ParseSourceAddress(s)
		if err != nil {
			c.add(p, "%v", err)
			continue
		}
		if !counting {
			continue // past the bound: only the syntax of the rest is checked
		}
		first, n, ok := hosts(pr)
		if !ok {
			c.add(p, "%s has %s host addresses, more than the %d source addresses allowed", s, hostCount(pr), MaxSourceAddresses)
			counting = false
			continue
		}
		if total += n; total > MaxSourceAddresses {
			c.add(p, "source_addresses expand to more than %d addresses (%d up to this entry)", MaxSourceAddresses, total)
			counting = false
			continue
		}
		a := first
		for range n {
			if prev, dup := seen[a]; dup {
				switch {
				case !pr.IsSingleIP():
					c.add(p, "%s includes %s, listed already (at %s)", s, a, c.where(prev.path))
				case strings.Contains(prev.text, "/"):
					c.add(p, "source address %s is listed already, in %s (at %s)", a, strings.TrimSpace(prev.text), c.where(prev.path))
				default:
					c.add(p, "source address %s is listed twice (also at %s)", a, c.where(prev.path))
				}
				break
			}
			seen[a] = entry{p, s}
			a = a.Next()
		}
	}
}

// hostCount formats the number of host addresses of a block that is too
// large to expand.
func hostCount(p netip.Prefix) string {
	free := p.Addr().BitLen() - p.Bits()
	if free >= 63 {
		return fmt.Sprintf("about 2^%d", free)
	}
	n := uint64(1)<<free - 1 // all but the network address
	if p.Addr().Is4() {
		n-- // and the broadcast address
	}
	return strconv.FormatUint(n, 10)
}

// clientCombination checks the settings a stage plays with, own laid over
// top (own nil: the top-level block alone). A clash is reported at the
// field of the more specific block: the stage's, when it sets one of the
// two. A stage that sets neither repeats the top-level block's clash word
// for word, at the same place, and the copies are dropped (sortProblems).
func (c *checker) clientCombination(top, own *Client, ownPath string) {
	eff := top.Over(own)
	// where is the path at which the effective value of a field was
	// written: the stage's block if it sets the field, else the top's.
	where := func(name string, setInOwn bool) string {
		if own != nil && setInOwn {
			return joinPath(ownPath, name)
		}
		return joinPath("client", name)
	}
	inOwn := func(name string) bool {
		if own == nil {
			return false
		}
		for _, f := range clientFields {
			if f.name == name {
				return f.set(own)
			}
		}
		return false
	}
	failed := func(names ...string) bool {
		for _, n := range names {
			if c.failed(where(n, inOwn(n))) {
				return true
			}
		}
		return false
	}

	// blame orders the two fields of a clash: the one to report at (the
	// one the stage's own block sets, else a) and the other, each with
	// the path where its value was written.
	blame := func(a, b string) (at, other string, swapped bool) {
		pa, pb := where(a, inOwn(a)), where(b, inOwn(b))
		if inOwn(b) && !inOwn(a) {
			return pb, pa, true
		}
		return pa, pb, false
	}

	if eff.ConnectionsOr() == ConnectionsPerRequest && eff.ProtocolOr() == ProtocolH2 && !failed("connections", "protocol") {
		at, other, swapped := blame("connections", "protocol")
		if swapped {
			c.add(at, "protocol h2 cannot be used with connections: per-request (at %s): a new connection per request is HTTP/1.1 only", c.where(other))
		} else {
			c.add(at, "connections: per-request cannot be used with protocol h2 (at %s): a new connection per request is HTTP/1.1 only", c.where(other))
		}
	}
	if eff.Implementation != nil && *eff.Implementation == ImplementationSurge && eff.ProtocolOr() == ProtocolH2 && !failed("implementation", "protocol") {
		at, other, swapped := blame("implementation", "protocol")
		if swapped {
			c.warn(at, "protocol h2 ignores implementation: surge (at %s): HTTP/2 always uses net/http", c.where(other))
		} else {
			c.warn(at, "implementation surge has no effect with protocol h2 (at %s): HTTP/2 always uses net/http", c.where(other))
		}
	}
	// A phase timeout longer than the total timeout never fires: the
	// total timeout bounds the whole request. That is not wrong — a
	// scenario-wide connect_timeout with one stage's shorter timeout is a
	// fair thing to write — so it is a warning, not an error.
	if eff.Timeout != nil && *eff.Timeout > 0 && *eff.Timeout <= MaxClientTimeout {
		for _, ph := range []struct {
			name string
			v    *Duration
		}{{"connect_timeout", eff.ConnectTimeout}, {"first_byte_timeout", eff.FirstByteTimeout}} {
			if ph.v == nil || *ph.v <= *eff.Timeout || failed(ph.name, "timeout") {
				continue
			}
			at, other, swapped := blame(ph.name, "timeout")
			if swapped {
				c.warn(at, "timeout %s is shorter than %s %s (at %s), which therefore never fires: the total timeout bounds the whole request",
					*eff.Timeout, ph.name, *ph.v, c.where(other))
			} else {
				c.warn(at, "%s %s is longer than timeout %s (at %s), which bounds the whole request: it never fires",
					ph.name, *ph.v, *eff.Timeout, c.where(other))
			}
		}
	}
}
