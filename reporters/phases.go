package reporters

// Phases break a request's time on the wire into its parts, each
// summarised over the requests that had it (a part with no request is
// left out):
//
//	dns      the host name's lookup (none when the target is an IP literal)
//	connect  the TCP dial
//	tls      the TLS handshake (https only)
//	write    the request's write, from a connection in hand to its last byte
//	ttfb     time to first byte: the first response byte − on the wire
//	read     the response's read, from its first byte to the end of its body
//
// dns, connect and tls come only with the requests that opened their
// connection, NewConns of them: a request on a reused connection has
// none, so "connect p99" is the p99 of NewConns dials. Write, ttfb and
// read add up to about the service time (on the wire → done).
type Phases struct {
	DNSMS     Percentiles `json:"dns_ms,omitzero"`
	ConnectMS Percentiles `json:"connect_ms,omitzero"`
	TLSMS     Percentiles `json:"tls_ms,omitzero"`
	WriteMS   Percentiles `json:"write_ms,omitzero"`
	TTFBMS    Percentiles `json:"ttfb_ms,omitzero"`
	ReadMS    Percentiles `json:"read_ms,omitzero"`
	// NewConns counts the requests that were the first on a connection
	// opened for them: the requests with dns, connect and tls phases.
	NewConns uint64 `json:"new_conns"`
}

// PhaseNames are the phases' names, in the order a request goes through
// them: the names of thresholds, hlog tags and the summary's rows.
var PhaseNames = [...]string{"dns", "connect", "tls", "write", "ttfb", "read"}

// Of returns the percentiles of the phase named name (one of
// PhaseNames), zero for an unknown name or a phase with no values.
func (p *Phases) Of(name string) Percentiles {
	switch name {
	case "dns":
		return p.DNSMS
	case "connect":
		return p.ConnectMS
	case "tls":
		return p.TLSMS
	case "write":
		return p.WriteMS
	case "ttfb":
		return p.TTFBMS
	case "read":
		return p.ReadMS
	}
	return Percentiles{}
}

// Set sets the percentiles of the phase named name (one of PhaseNames)
// and reports whether the name is known.
func (p *Phases) Set(name string, v Percentiles) bool {
	switch name {
	case "dns":
		p.DNSMS = v
	case "connect":
		p.ConnectMS = v
	case "tls":
		p.TLSMS = v
	case "write":
		p.WriteMS = v
	case "ttfb":
		p.TTFBMS = v
	case "read":
		p.ReadMS = v
	default:
		return false
	}
	return true
}
