package data

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/net/http/httpguts"
)

// MaxClientBytes bounds a client ID or region name taken from a request
// header; a longer value is ignored, as if the header were absent, so that
// what Replicas remember per client stays small.
const MaxClientBytes = 256

// HeaderConfig names the request headers that identify a client and its
// region. All load comes from one address, so the scenario tells the
// target who is asking by setting these headers; WithHeaders copies them
// into the request context, where Replicas (read-your-writes) and Regions
// (routing) look for them.
type HeaderConfig struct {
	// Client is the header carrying a client ID, used by Replicas to send
	// a client's reads to the primary for a while after it writes.
	// Default "X-Client-ID". A request without it is anonymous: its reads
	// go to the replicas whatever it wrote.
	Client string

	// Region is the header naming the region nearest the client, the one
	// whose store serves it in Regions. Default "X-Region". A request
	// without it is served by the Regions' default region.
	Region string

	// Tenant is the header naming the request's tenant, by which Shards
	// with TenantPartitioning route it. Default "X-Tenant"; empty turns
	// it off.
	Tenant string
}

// DefaultHeaderConfig returns X-Client-ID and X-Region.
func DefaultHeaderConfig() HeaderConfig {
	return HeaderConfig{Client: "X-Client-ID", Region: "X-Region", Tenant: "X-Tenant"}
}

// Validate reports every field that is not a valid HTTP header name.
func (c HeaderConfig) Validate() error {
	var errs []error
	if !httpguts.ValidHeaderFieldName(c.Client) {
		errs = append(errs, fmt.Errorf("client header must be a non-empty HTTP header name of letters, digits and !#$%%&'*+-.^_`|~ (got %q)", c.Client))
	}
	if !httpguts.ValidHeaderFieldName(c.Region) {
		errs = append(errs, fmt.Errorf("region header must be a non-empty HTTP header name of letters, digits and !#$%%&'*+-.^_`|~ (got %q)", c.Region))
	}
	if c.Tenant != "" && !httpguts.ValidHeaderFieldName(c.Tenant) {
		errs = append(errs, fmt.Errorf("tenant header must be empty or an HTTP header name of letters, digits and !#$%%&'*+-.^_`|~ (got %q)", c.Tenant))
	}
	return errors.Join(errs...)
}

// WithHeaders returns a handler that serves next with the client ID and
// region of cfg's headers in the request context (see ClientFrom and
// RegionFrom). Empty or over-long header values are left out.
func WithHeaders(cfg HeaderConfig, next http.Handler) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("headers: %w", err)
	}
	if next == nil {
		return nil, errors.New("headers: next handler must not be nil")
	}
	client := http.CanonicalHeaderKey(cfg.Client)
	region := http.CanonicalHeaderKey(cfg.Region)
	tenant := http.CanonicalHeaderKey(cfg.Tenant)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		changed := false
		if id := r.Header.Get(client); id != "" && len(id) <= MaxClientBytes {
			ctx = WithClient(ctx, id)
			changed = true
		}
		if name := r.Header.Get(region); name != "" && len(name) <= MaxClientBytes {
			ctx = WithRegion(ctx, name)
			changed = true
		}
		if tenant != "" {
			if name := r.Header.Get(tenant); name != "" && len(name) <= MaxClientBytes {
				ctx = WithTenant(ctx, name)
				changed = true
			}
		}
		if changed {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	}), nil
}

type (
	clientKey struct{}
	regionKey struct{}
	tenantKey struct{}
)

// WithClient returns a copy of ctx that carries the client ID id.
func WithClient(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientKey{}, id)
}

// ClientFrom returns the client ID ctx carries, if any.
func ClientFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(clientKey{}).(string)
	return id, ok && id != ""
}

// WithRegion returns a copy of ctx that carries the client's region.
func WithRegion(ctx context.Context, region string) context.Context {
	return context.WithValue(ctx, regionKey{}, region)
}

// RegionFrom returns the client region ctx carries, if any.
func RegionFrom(ctx context.Context) (string, bool) {
	r, ok := ctx.Value(regionKey{}).(string)
	return r, ok && r != ""
}

// WithTenant returns a copy of ctx that carries the request's tenant.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFrom returns the tenant ctx carries, if any.
func TenantFrom(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey{}).(string)
	return t, ok && t != ""
}
