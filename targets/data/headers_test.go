package data

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWithHeaders(t *testing.T) {
	var gotClient, gotRegion string
	var hasClient, hasRegion bool
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotClient, hasClient = ClientFrom(r.Context())
		gotRegion, hasRegion = RegionFrom(r.Context())
	})
	h, err := WithHeaders(HeaderConfig{Client: "x-user", Region: "X-Region"}, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name               string
		headers            map[string]string
		client, region     string
		hasClient, hasRegn bool
	}{
		{"both", map[string]string{"X-User": "alice", "X-Region": "eu"}, "alice", "eu", true, true},
		{"none", nil, "", "", false, false},
		{"empty", map[string]string{"X-User": ""}, "", "", false, false},
		{"too long", map[string]string{"X-User": strings.Repeat("a", MaxClientBytes+1), "X-Region": "us"}, "", "us", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if gotClient != tc.client || hasClient != tc.hasClient || gotRegion != tc.region || hasRegion != tc.hasRegn {
				t.Errorf("client %q (%v), region %q (%v); want %q (%v), %q (%v)",
					gotClient, hasClient, gotRegion, hasRegion, tc.client, tc.hasClient, tc.region, tc.hasRegn)
			}
		})
	}
}

func TestHeaderConfigValidate(t *testing.T) {
	if err := DefaultHeaderConfig().Validate(); err != nil {
		t.Errorf("DefaultHeaderConfig().Validate() = %v; want nil", err)
	}
	err := HeaderConfig{Client: "", Region: "X Region"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "client header") || !strings.Contains(err.Error(), "region header") {
		t.Errorf("Validate() = %v; want errors for both fields", err)
	}
	if _, err := WithHeaders(DefaultHeaderConfig(), nil); err == nil {
		t.Error("WithHeaders(nil handler) succeeded; want an error")
	}
}
