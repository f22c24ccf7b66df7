package har

import (
	"net/http"
	"path"
	"strings"
)

// Why an entry is left out.
const (
	dropAsset     = "static assets"
	dropPreflight = "CORS preflights"
	dropNoResp    = "without a response"
	dropScheme    = "not http(s) URLs with a host"
	dropCached    = "served from the browser's cache"
	dropOverLimit = "over the journey's step limit"
)

// assetExt are the URL path extensions of static assets.
var assetExt = map[string]bool{
	".css": true, ".js": true, ".mjs": true, ".map": true,
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".avif": true,
	".svg": true, ".ico": true, ".bmp": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
	".mp4": true, ".webm": true, ".mp3": true, ".ogg": true, ".wav": true, ".m4a": true,
	".wasm": true,
}

// assetResourceTypes are Chrome's _resourceType values of static assets.
var assetResourceTypes = map[string]bool{
	"stylesheet": true, "script": true, "image": true, "font": true, "media": true,
}

// isAsset reports whether an entry fetched a static asset: by its
// response's MIME type, its URL's extension or Chrome's resource type.
func isAsset(e *Entry, urlPath string) bool {
	if assetExt[strings.ToLower(path.Ext(urlPath))] || assetResourceTypes[strings.ToLower(e.ResourceType)] {
		return true
	}
	if e.Response == nil {
		return false
	}
	return assetMIME(e.Response.Content.MimeType)
}

// assetMIME reports whether a response MIME type is a static asset's.
func assetMIME(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(mt))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	switch {
	case mt == "text/css", strings.Contains(mt, "javascript"), strings.Contains(mt, "ecmascript"),
		strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "font/"), strings.HasPrefix(mt, "audio/"),
		strings.HasPrefix(mt, "video/"), mt == "application/wasm", mt == "application/vnd.ms-fontobject",
		strings.HasPrefix(mt, "application/font-"), strings.HasPrefix(mt, "application/x-font-"):
		return true
	}
	return false
}

// isPreflight reports whether an entry is a CORS preflight.
func isPreflight(rq *Request) bool {
	if !strings.EqualFold(rq.Method, http.MethodOptions) {
		return false
	}
	for _, h := range rq.Headers {
		if strings.EqualFold(h.Name, "Access-Control-Request-Method") {
			return true
		}
	}
	return false
}

// Why a request header is dropped (a key of Summary.HeadersDropped).
const (
	hdrTransport = "set by the client"
	hdrCookie    = "Cookie (the journey's cookie jar sends cookies)"
	hdrBrowser   = "added by the browser"
	hdrCache     = "browser cache revalidation"
	hdrEncoding  = "Accept-Encoding (the client does not decompress)"
	hdrInvalid   = "not valid HTTP"
)

// droppedHeaders maps a lower-case header name to why it is dropped.
var droppedHeaders = map[string]string{
	"host": hdrTransport, "content-length": hdrTransport, "connection": hdrTransport,
	"keep-alive": hdrTransport, "proxy-connection": hdrTransport, "te": hdrTransport,
	"trailer": hdrTransport, "transfer-encoding": hdrTransport, "upgrade": hdrTransport,
	"expect":     hdrTransport,
	"cookie":     hdrCookie,
	"user-agent": hdrBrowser, "dnt": hdrBrowser, "priority": hdrBrowser, "purpose": hdrBrowser,
	"upgrade-insecure-requests": hdrBrowser,
	"accept-encoding":           hdrEncoding,
	"if-none-match":             hdrCache, "if-modified-since": hdrCache, "cache-control": hdrCache,
	"pragma": hdrCache,
}

// headerDrop says why a request header is dropped, or "" to keep it.
func headerDrop(name, value string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(name, ":"):
		return hdrTransport // an HTTP/2 or HTTP/3 pseudo-header
	case strings.HasPrefix(lower, "sec-"):
		return hdrBrowser
	case droppedHeaders[lower] != "":
		return droppedHeaders[lower]
	case !validHeaderName(name) || !validHeaderValue(value):
		return hdrInvalid
	}
	return ""
}

// sourceHeaders are response headers whose values are never tokens a later
// request reuses (Set-Cookie among them: the jar carries cookies).
var sourceHeaders = map[string]bool{
	"set-cookie": true, "date": true, "expires": true, "last-modified": true, "age": true,
	"cache-control": true, "vary": true, "server": true, "via": true, "alt-svc": true,
	"strict-transport-security": true, "content-security-policy": true,
	"content-security-policy-report-only": true, "report-to": true, "nel": true,
	"accept-ranges": true, "connection": true, "keep-alive": true, "transfer-encoding": true,
	"server-timing": true, "timing-allow-origin": true, "location": true, "link": true,
	"x-powered-by": true, "pragma": true, "permissions-policy": true,
	"referrer-policy": true, "x-content-type-options": true, "x-frame-options": true,
	"x-xss-protection": true, "cross-origin-opener-policy": true,
	"cross-origin-embedder-policy": true, "cross-origin-resource-policy": true,
}

// tokenSourceHeader reports whether a response header may carry a token.
func tokenSourceHeader(name string) bool {
	lower := strings.ToLower(name)
	return !sourceHeaders[lower] && !strings.HasPrefix(lower, "content-") &&
		!strings.HasPrefix(lower, "access-control-") && !strings.HasPrefix(name, ":")
}
