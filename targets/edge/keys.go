package edge

import (
	"container/list"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Key says how a rate limiter tells its clients apart, and so which
// requests share a quota. Its text form is one of
//
//	global             one quota for all requests (the zero Key)
//	ip                 one per remote IP address
//	header:X-Client-Id one per value of the header; a request without it
//	                   is keyed by its remote IP
//
// All load from a load generator comes from few addresses, so a scenario
// that wants per-client limits sets a header per virtual client.
type Key struct {
	// Header, when not empty, keys requests by the value of this header.
	Header string
	// IP keys requests by their remote IP address: all of them when
	// Header is empty, else those without the header.
	IP bool
}

// KeyGlobal, KeyIP and KeyHeader return the three kinds of Key.
func KeyGlobal() Key                       { return Key{} }
func KeyIP() Key                           { return Key{IP: true} }
func KeyHeader(name string) Key            { return Key{Header: name, IP: true} }
func (k Key) keyed() bool                  { return k.Header != "" || k.IP }
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// String returns the text form: "global", "ip" or "header:NAME".
func (k Key) String() string {
	switch {
	case k.Header != "":
		return "header:" + k.Header
	case k.IP:
		return "ip"
	}
	return "global"
}

// UnmarshalText parses "global", "ip" or "header:NAME" ("" is global).
func (k *Key) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "" || s == "global":
		*k = Key{}
	case s == "ip":
		*k = KeyIP()
	case strings.HasPrefix(s, "header:"):
		name := strings.TrimSpace(strings.TrimPrefix(s, "header:"))
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("key %q: %q is not a valid HTTP header name", s, name)
		}
		*k = KeyHeader(name)
	default:
		return fmt.Errorf("key %q: want global, ip or header:NAME (like header:X-Client-Id)", s)
	}
	return nil
}

// validate reports a Key that cannot key requests.
func (k Key) validate() error {
	if k.Header != "" && !httpguts.ValidHeaderFieldName(k.Header) {
		return fmt.Errorf("key header %q is not a valid HTTP header name", k.Header)
	}
	return nil
}

// of returns the client key of r ("" for a global Key).
func (k Key) of(r *http.Request) string {
	if k.Header != "" {
		if v := r.Header.Get(k.Header); v != "" {
			return v
		}
	}
	if !k.IP {
		return ""
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// keyTable holds one V per client key, at most max of them: at the bound
// the least recently used is forgotten. It is not safe for concurrent
// use; its owner locks it.
type keyTable[V any] struct {
	max   int
	keys  map[string]*list.Element // of *keyed[V]
	lru   list.List                // most recently used first
	fresh func() V                 // a new client's value
}

type keyed[V any] struct {
	key string
	v   V
}

func newKeyTable[V any](max int, fresh func() V) *keyTable[V] {
	return &keyTable[V]{max: max, keys: make(map[string]*list.Element), fresh: fresh}
}

// get returns the value of key, making a fresh one for a new key. A key
// longer than maxKeyBytes is replaced by a 64-bit hash of itself, so that
// the memory of the table stays bounded.
func (t *keyTable[V]) get(key string) *V {
	if len(key) > maxKeyBytes {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key)) // never fails
		key = "fnv64a:" + strconv.FormatUint(h.Sum64(), 16)
	}
	if e, ok := t.keys[key]; ok {
		t.lru.MoveToFront(e)
		return &e.Value.(*keyed[V]).v
	}
	if len(t.keys) >= t.max {
		oldest := t.lru.Back()
		t.lru.Remove(oldest)
		delete(t.keys, oldest.Value.(*keyed[V]).key)
	}
	kv := &keyed[V]{key: key, v: t.fresh()}
	t.keys[key] = t.lru.PushFront(kv)
	return &kv.v
}

// each calls f with every value, most recently used first.
func (t *keyTable[V]) each(f func(*V)) {
	for e := t.lru.Front(); e != nil; e = e.Next() {
		f(&e.Value.(*keyed[V]).v)
	}
}

// len returns how many keys the table holds.
func (t *keyTable[V]) len() int { return len(t.keys) }
