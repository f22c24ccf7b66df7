package targets

import (
	"bytes"
	"container/list"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/internal/metricdef"
)

// Limits of the shop flow.
const (
	// DefaultMaxSessions is the session bound of a ShopConfig left at 0.
	DefaultMaxSessions = 10_000
	// MaxMaxSessions is the largest session bound a ShopConfig may set.
	MaxMaxSessions = 100_000
	// MaxUserChars is the longest user name POST /login accepts, in
	// characters (Unicode code points).
	MaxUserChars = 64
	// MaxCartLines is how many different items one cart may hold.
	MaxCartLines = 32
	// MaxLineQty is the most units of one item a cart may hold.
	MaxLineQty = 1_000
	// maxShopBodyBytes bounds the bodies of POST /login and POST /cart.
	maxShopBodyBytes = 16 << 10
	// SessionCookie is the name of the session cookie.
	SessionCookie = "session"
	// shopComponent labels the shop's metrics.
	shopComponent = "shop"
)

// ShopConfig configures the shop flow that every topology serves.
type ShopConfig struct {
	// MaxSessions bounds the sessions held at once, so that a long run
	// of logins cannot grow memory without bound: a login beyond it
	// evicts the least recently used session (counted in
	// sessions_evicted; its cookie and token then get 401). From 1 to
	// MaxMaxSessions; 0 means DefaultMaxSessions.
	MaxSessions int `json:"max_sessions"`
}

func (c ShopConfig) maxSessions() int {
	if c.MaxSessions == 0 {
		return DefaultMaxSessions
	}
	return c.MaxSessions
}

func defaultShop() ShopConfig { return ShopConfig{MaxSessions: DefaultMaxSessions} }

func (c *check) shop(field string, s ShopConfig) {
	c.need(s.MaxSessions >= 0 && s.MaxSessions <= MaxMaxSessions, field+".max_sessions",
		"must be from 1 to %d, or 0 for the default %d (got %d)", MaxMaxSessions, DefaultMaxSessions, s.MaxSessions)
}

// AuthOutcome is how an authenticated request's credentials were judged.
// The checks run in this order, and the first that fails names the
// outcome: a bearer token is present (else missing_token), a session
// cookie is present (else missing_cookie), the cookie names a live
// session (else unknown_session), the token is that session's (else
// mismatch when it is another live session's token, unknown_token when
// it is no live session's).
type AuthOutcome int

// The outcomes, in the order of ShopAuthStats.
const (
	AuthOK AuthOutcome = iota
	AuthMissingToken
	AuthUnknownToken
	AuthMissingCookie
	AuthUnknownSession
	AuthMismatch
	numAuthOutcomes
)

var authOutcomeNames = [numAuthOutcomes]string{"ok", "missing_token", "unknown_token", "missing_cookie", "unknown_session", "mismatch"}

// String returns the outcome's label: ok, missing_token, unknown_token,
// missing_cookie, unknown_session or mismatch.
func (o AuthOutcome) String() string {
	if o < 0 || o >= numAuthOutcomes {
		return "AuthOutcome(" + strconv.Itoa(int(o)) + ")"
	}
	return authOutcomeNames[o]
}

// ShopAuthStats counts authenticated requests by outcome.
type ShopAuthStats struct {
	OK             uint64 `json:"ok"`
	MissingToken   uint64 `json:"missing_token"`
	UnknownToken   uint64 `json:"unknown_token"`
	MissingCookie  uint64 `json:"missing_cookie"`
	UnknownSession uint64 `json:"unknown_session"`
	Mismatch       uint64 `json:"mismatch"`
}

// ShopStats is the body of GET /shop/stats and what Shop.Stats returns:
// counts since the topology started.
type ShopStats struct {
	// Logins counts successful logins.
	Logins uint64 `json:"logins"`
	// Auth counts requests to the authenticated routes by outcome.
	Auth ShopAuthStats `json:"auth"`
	// Checkouts counts orders placed (201 answers of POST /checkout).
	Checkouts uint64 `json:"checkouts"`
	// Sessions is how many sessions are held now.
	Sessions int `json:"sessions"`
	// SessionsEvicted counts sessions dropped to keep within MaxSessions.
	SessionsEvicted uint64 `json:"sessions_evicted"`
	// MaxSessions is the bound.
	MaxSessions int `json:"max_sessions"`
}

// LoginResponse is the body of a 200 answer of POST /login.
type LoginResponse struct {
	Token string `json:"token"`
	User  string `json:"user"`
}

// ShopItemResponse is the body of a 200 answer of GET /shop/items/{id}:
// the item as GET /items/{id} answers it, and an entity tag of its
// version (also sent as the ETag header).
type ShopItemResponse struct {
	ItemResponse
	ETag string `json:"etag"`
}

// CartResponse is the body of a 200 answer of POST /cart: the session's
// cart id, the units it holds and its different items.
type CartResponse struct {
	CartID string `json:"cart_id"`
	Items  int    `json:"items"`
	Lines  int    `json:"lines"`
}

// OrderResponse is the body of a 201 answer of POST /checkout: a fresh
// order id and the units ordered.
type OrderResponse struct {
	OrderID string `json:"order_id"`
	Items   int    `json:"items"`
}

// shopError is the JSON body of a shop error answer.
type shopError struct {
	Error   string `json:"error"`
	Outcome string `json:"outcome,omitempty"`
}

// session is one login. Its fields other than cart are set once; cart is
// guarded by Shop.mu.
type session struct {
	id, token, user, cartID string
	slot                    int // its row in the store: "session/<slot>"
	cart                    map[string]int
	units                   int
}

// Shop is the shop flow of a topology: logins, sessions, carts and
// orders, with every session read and write charged to the topology's
// data path (see newShop). It is safe for concurrent use; it owns no
// goroutines.
type Shop struct {
	store data.Store
	max   int

	mu       sync.Mutex
	byID     map[string]*list.Element // of *session
	byToken  map[string]*list.Element
	lru      list.List // front: most recently used
	freeSlot []int     // slots of evicted sessions, for reuse
	nextSlot int

	logins, checkouts, evicted atomic.Uint64
	auth                       [numAuthOutcomes]atomic.Uint64

	mLogins, mCheckouts, mEvicted prometheus.Counter
	mAuth                         [numAuthOutcomes]prometheus.Counter
}

// newShop returns the shop of a topology whose data path is store: the
// store the item API reads and writes, so the cache where the topology
// has one (a data.Cache over its database) and else the database itself,
// as real systems keep sessions in a shared store. A login writes the
// session's row ("session/<slot>"), every authenticated request that
// presents a token and a cookie reads it, a cart change writes it again
// and a checkout writes the session's order row ("order/<slot>"). Rows
// are numbered by slot, not by session, so the keys they add to the
// store stay within 2 × MaxSessions however many logins a run makes.
// Its metrics carry component="shop" and are registered on reg.
func newShop(cfg ShopConfig, store data.Store, reg prometheus.Registerer) (*Shop, error) {
	s := &Shop{
		store:   store,
		max:     cfg.maxSessions(),
		byID:    make(map[string]*list.Element),
		byToken: make(map[string]*list.Element),
		mLogins: prometheus.NewCounter(prometheus.CounterOpts{Name: metricdef.Logins, Help: metricdef.HelpLogins}),
		mCheckouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricdef.Checkouts, Help: metricdef.HelpCheckouts}),
		mEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricdef.SessionEvictions, Help: metricdef.HelpSessionEvictions}),
	}
	auth := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricdef.AuthRequests, Help: metricdef.HelpAuthRequests}, []string{"outcome"})
	for o := range numAuthOutcomes {
		s.mAuth[o] = auth.WithLabelValues(o.String()) // every outcome shows, from 0
	}
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricdef.Sessions, Help: metricdef.HelpSessions},
		func() float64 { return float64(s.Len()) })
	if err := metricdef.Register(reg, shopComponent, s.mLogins, s.mCheckouts, s.mEvicted, auth, sessions); err != nil {
		return nil, fmt.Errorf("shop: %w", err)
	}
	return s, nil
}

// ShopOf returns the shop of a handler built by the registry (as
// BuildTopology returns), or nil for any other handler (echo's).
func ShopOf(h http.Handler) *Shop {
	if t, ok := h.(*topologyHandler); ok {
		return t.shop
	}
	return nil
}

// Shop returns the shop flow of the topology s serves, for in-process
// tests, or nil when s serves no bundled topology (echo, or a handler of
// its own).
func (s *Server) Shop() *Shop { return ShopOf(s.srv.Handler) }

// Stats returns the shop's counts since the topology started.
func (s *Shop) Stats() ShopStats {
	return ShopStats{
		Logins: s.logins.Load(),
		Auth: ShopAuthStats{
			OK:             s.auth[AuthOK].Load(),
			MissingToken:   s.auth[AuthMissingToken].Load(),
			UnknownToken:   s.auth[AuthUnknownToken].Load(),
			MissingCookie:  s.auth[AuthMissingCookie].Load(),
			UnknownSession: s.auth[AuthUnknownSession].Load(),
			Mismatch:       s.auth[AuthMismatch].Load(),
		},
		Checkouts:       s.checkouts.Load(),
		Sessions:        s.Len(),
		SessionsEvicted: s.evicted.Load(),
		MaxSessions:     s.max,
	}
}

// Len returns how many sessions the shop holds.
func (s *Shop) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// routes registers the routes served behind the app servers on mux.
func (s *Shop) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /shop/items/{id}", s.item)
	mux.HandleFunc("POST /cart", s.addToCart)
	mux.HandleFunc("POST /checkout", s.checkout)
}

// shopRoutes are the routes that go through the app servers.
var shopRoutes = []string{"POST /login", "GET /shop/items/{id}", "POST /cart", "POST /checkout"}

// serveStats answers GET /shop/stats, outside the app servers like
// /metrics.
func (s *Shop) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeItemJSON(w, http.StatusOK, s.Stats())
}

func sessionKey(slot int) string { return "session/" + strconv.Itoa(slot) }
func orderKey(slot int) string   { return "order/" + strconv.Itoa(slot) }

// freshID returns a random id (128 bits of crypto/rand, base32) that
// taken does not report as in use; the loop is bounded, and a collision
// of 128-bit random ids does not happen in practice.
func freshID(taken func(string) bool) (string, error) {
	for range 8 {
		if id := rand.Text(); !taken(id) {
			return id, nil
		}
	}
	return "", errors.New("no fresh random id after 8 tries")
}

func writeShopError(w http.ResponseWriter, status int, msg string) {
	writeItemJSON(w, status, shopError{Error: msg})
}

// readShopBody reads a JSON object body of at most maxShopBodyBytes into
// v. It answers 400 or 413 itself and returns false when it fails.
func readShopBody(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxShopBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			writeShopError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxShopBodyBytes))
		} else {
			writeShopError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		}
		return false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		writeShopError(w, http.StatusBadRequest, "request body must be a JSON object like "+example)
		return false
	}
	if body[0] != '{' {
		writeShopError(w, http.StatusBadRequest, "request body must be a JSON object like "+example)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeShopError(w, http.StatusBadRequest, "request body must be a JSON object like "+example+": "+err.Error())
		return false
	}
	return true
}

// login answers POST /login: a new session, written to the store.
func (s *Shop) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User     *string         `json:"user"`
		Password json.RawMessage `json:"password"` // any value: the shop checks no password
	}
	if !readShopBody(w, r, &req, `{"user":"ada","password":"x"}`) {
		return
	}
	if req.User == nil {
		writeShopError(w, http.StatusBadRequest, `"user" is required: a string of 1 to 64 characters`)
		return
	}
	if n := utf8.RuneCountInString(*req.User); n < 1 || n > MaxUserChars {
		writeShopError(w, http.StatusBadRequest, fmt.Sprintf(`"user" must be 1 to %d characters (got %d)`, MaxUserChars, n))
		return
	}
	sess, err := s.open(*req.User)
	if err != nil {
		writeShopError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if _, err := s.store.Put(r.Context(), sessionKey(sess.slot)); err != nil {
		s.drop(sess) // never handed out
		writeStoreError(w, err)
		return
	}
	s.logins.Add(1)
	s.mLogins.Inc()
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sess.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	writeItemJSON(w, http.StatusOK, LoginResponse{Token: sess.token, User: sess.user})
}

// open makes a session for user, evicting the least recently used one
// when the shop is full.
func (s *Shop) open(user string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := freshID(func(v string) bool { _, ok := s.byID[v]; return ok })
	if err != nil {
		return nil, err
	}
	token, err := freshID(func(v string) bool { _, ok := s.byToken[v]; return ok })
	if err != nil {
		return nil, err
	}
	for s.lru.Len() >= s.max { // at most once: the bound never shrinks
		old := s.lru.Back().Value.(*session)
		s.removeLocked(old)
		s.evicted.Add(1)
		s.mEvicted.Inc()
	}
	slot := s.nextSlot
	if n := len(s.freeSlot); n > 0 {
		slot = s.freeSlot[n-1]
		s.freeSlot = s.freeSlot[:n-1]
	} else {
		s.nextSlot++
	}
	sess := &session{id: id, token: token, user: user, cartID: rand.Text(), slot: slot, cart: map[string]int{}}
	el := s.lru.PushFront(sess)
	s.byID[id] = el
	s.byToken[token] = el
	return sess, nil
}

// drop removes sess if it is still held.
func (s *Shop) drop(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byID[sess.id]; ok && el.Value.(*session) == sess {
		s.removeLocked(sess)
	}
}

func (s *Shop) removeLocked(sess *session) {
	el := s.byID[sess.id]
	s.lru.Remove(el)
	delete(s.byID, sess.id)
	delete(s.byToken, sess.token)
	s.freeSlot = append(s.freeSlot, sess.slot)
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// judge classifies the credentials of r and, for a live session, marks
// it most recently used when they are right. It returns the session the
// cookie names (nil if none) and the outcome.
func (s *Shop) judge(r *http.Request) (*session, AuthOutcome) {
	token := bearer(r)
	if token == "" {
		return nil, AuthMissingToken
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, AuthMissingCookie
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byID[c.Value]
	if !ok {
		return nil, AuthUnknownSession
	}
	sess := el.Value.(*session)
	if subtle.ConstantTimeCompare([]byte(token), []byte(sess.token)) != 1 {
		if _, other := s.byToken[token]; other {
			return sess, AuthMismatch
		}
		return sess, AuthUnknownToken
	}
	s.lru.MoveToFront(el)
	return sess, AuthOK
}

// authenticate judges r's credentials, counts the outcome and, when the
// request named a session (a token and a cookie), reads the session's
// row from the store: the lookup a real server makes before it can tell
// a good session from a bad one. It answers 401 (or the store's error)
// itself and returns nil then.
func (s *Shop) authenticate(w http.ResponseWriter, r *http.Request) *session {
	sess, outcome := s.judge(r)
	s.auth[outcome].Add(1)
	s.mAuth[outcome].Inc()
	if outcome != AuthMissingToken && outcome != AuthMissingCookie {
		key := "session/none" // an unknown id: the lookup finds nothing
		if sess != nil {
			key = sessionKey(sess.slot)
		}
		if _, err := s.store.Get(r.Context(), key); err != nil {
			writeStoreError(w, err)
			return nil
		}
	}
	if outcome != AuthOK {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeItemJSON(w, http.StatusUnauthorized, shopError{Error: unauthorized[outcome], Outcome: outcome.String()})
		return nil
	}
	return sess
}

var unauthorized = [numAuthOutcomes]string{
	AuthMissingToken:   "missing bearer token: send Authorization: Bearer <token from POST /login>",
	AuthUnknownToken:   "unknown token: it belongs to no live session",
	AuthMissingCookie:  "missing session cookie: send the cookie set by POST /login",
	AuthUnknownSession: "unknown session: the session cookie names no live session (never issued, or evicted)",
	AuthMismatch:       "token and session cookie belong to different sessions",
}

// itemETag is a strong entity tag of version v of item id.
func itemETag(id string, v uint64) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf(`"%016x-%d"`, h.Sum64(), v)
}

// item answers GET /shop/items/{id}: an item read like GET /items/{id}.
func (s *Shop) item(w http.ResponseWriter, r *http.Request) {
	if s.authenticate(w, r) == nil {
		return
	}
	id := r.PathValue("id")
	if len(id) > MaxItemIDBytes {
		writeShopError(w, http.StatusBadRequest, fmt.Sprintf("item id longer than %d bytes", MaxItemIDBytes))
		return
	}
	it, err := s.store.Get(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	etag := itemETag(id, it.Version)
	w.Header().Set("ETag", etag)
	writeItemJSON(w, http.StatusOK, ShopItemResponse{
		ItemResponse: ItemResponse{ID: id, Version: it.Version, Source: it.Source, Stale: it.Stale},
		ETag:         etag,
	})
}

// addToCart answers POST /cart: qty units of item into the session's
// cart, which is written back to the store.
func (s *Shop) addToCart(w http.ResponseWriter, r *http.Request) {
	sess := s.authenticate(w, r)
	if sess == nil {
		return
	}
	var req struct {
		Item *string `json:"item"`
		Qty  *int    `json:"qty"`
	}
	if !readShopBody(w, r, &req, `{"item":"42","qty":1}`) {
		return
	}
	if req.Item == nil || *req.Item == "" || len(*req.Item) > MaxItemIDBytes {
		writeShopError(w, http.StatusBadRequest, fmt.Sprintf(`"item" is required: an item id of 1 to %d bytes`, MaxItemIDBytes))
		return
	}
	qty := 1
	if req.Qty != nil {
		qty = *req.Qty
	}
	if qty < 1 || qty > MaxLineQty {
		writeShopError(w, http.StatusBadRequest, fmt.Sprintf(`"qty" must be an integer from 1 to %d (got %d)`, MaxLineQty, qty))
		return
	}
	item := *req.Item
	s.mu.Lock()
	have, inCart := sess.cart[item]
	switch {
	case !inCart && len(sess.cart) >= MaxCartLines:
		s.mu.Unlock()
		writeShopError(w, http.StatusConflict, fmt.Sprintf("cart full: it holds %d different items already", MaxCartLines))
		return
	case have+qty > MaxLineQty:
		s.mu.Unlock()
		writeShopError(w, http.StatusConflict, fmt.Sprintf("cart holds %d of item %q; at most %d of one item", have, item, MaxLineQty))
		return
	}
	sess.cart[item] = have + qty
	sess.units += qty
	resp := CartResponse{CartID: sess.cartID, Items: sess.units, Lines: len(sess.cart)}
	s.mu.Unlock()
	if _, err := s.store.Put(r.Context(), sessionKey(sess.slot)); err != nil {
		s.mu.Lock()
		if sess.cart[item] -= qty; sess.cart[item] <= 0 {
			delete(sess.cart, item)
		}
		sess.units -= qty
		s.mu.Unlock()
		writeStoreError(w, err)
		return
	}
	writeItemJSON(w, http.StatusOK, resp)
}

// checkout answers POST /checkout: the cart becomes an order, written to
// the store, and the cart is empty again.
func (s *Shop) checkout(w http.ResponseWriter, r *http.Request) {
	sess := s.authenticate(w, r)
	if sess == nil {
		return
	}
	// Take the cart first, so two checkouts of one cart cannot both
	// order it.
	s.mu.Lock()
	cart, units := sess.cart, sess.units
	if units == 0 {
		s.mu.Unlock()
		writeShopError(w, http.StatusConflict, "cart is empty: POST /cart first")
		return
	}
	sess.cart, sess.units = map[string]int{}, 0
	s.mu.Unlock()
	if _, err := s.store.Put(r.Context(), orderKey(sess.slot)); err != nil {
		s.restore(sess, cart)
		writeStoreError(w, err)
		return
	}
	s.checkouts.Add(1)
	s.mCheckouts.Inc()
	writeItemJSON(w, http.StatusCreated, OrderResponse{OrderID: rand.Text(), Items: units})
}

// restore puts the lines of a cart whose order failed back into sess's
// cart, within the cart's limits.
func (s *Shop) restore(sess *session, cart map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for item, n := range cart {
		have, ok := sess.cart[item]
		if !ok && len(sess.cart) >= MaxCartLines {
			continue
		}
		if n = min(n, MaxLineQty-have); n <= 0 {
			continue
		}
		sess.cart[item] = have + n
		sess.units += n
	}
}
