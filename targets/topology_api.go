package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/queue"
	"github.com/surgeload/surge/targets/resource"
)

// Limits of the topology API.
const (
	// MaxItemIDBytes is the longest item id the API accepts.
	MaxItemIDBytes = 128
	// maxItemBodyBytes bounds the body of POST /items and POST /jobs.
	maxItemBodyBytes = 64 << 10
)

// ItemResponse is the JSON body of GET /items/{id} (200) and of
// POST /items (201): the item's id, its version (how many writes it has
// had, as the serving store sees it; 0 for an item never written) and
// which component served it (a cache, a replica, a shard's table …).
// Stale is true when a replica knew of a newer version.
type ItemResponse struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Source  string `json:"source"`
	Stale   bool   `json:"stale,omitempty"`
}

// JobResponse is the JSON body of POST /jobs in the queue topology (202):
// the job's id, to poll at GET /jobs/{id}, and the item it will write.
type JobResponse struct {
	ID   string `json:"id"`
	Item string `json:"item"`
}

// jobBody is what the queue topology submits to its queue.
type jobBody struct {
	Item string `json:"item"`
}

// itemAPI serves the API routes behind the app servers: it is their Next
// handler, so it runs holding an app slot, after the app's own work.
type itemAPI struct {
	store  data.Store
	jobs   *queue.Queue // the queue topology's; nil elsewhere
	nextID atomic.Uint64
}

// newItemAPI returns the API over store (and jobs, when not nil), with the
// shop's routes when shop is not nil, and with the client and region
// headers copied into each request's context. It routes by itself, for it
// also serves behind the lb's backend listeners.
func newItemAPI(store data.Store, jobs *queue.Queue, shop *Shop) http.Handler {
	a := &itemAPI{store: store, jobs: jobs}
	mux := http.NewServeMux()
	if shop != nil {
		shop.routes(mux)
	}
	mux.HandleFunc("GET /items/{id}", a.get)
	mux.HandleFunc("POST /items", a.put)
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		if a.jobs != nil {
			a.submit(w, r)
			return
		}
		a.put(w, r) // no queue: the write is done at once, 201
	})
	mux.HandleFunc("GET /jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if a.jobs != nil {
			a.jobs.ServeHTTP(w, r)
			return
		}
		http.Error(w, "no such job: this topology has no job queue (POST /jobs writes synchronously and answers 201); only the queue topology keeps jobs", http.StatusNotFound)
	})
	return withHeaders(mux)
}

func (a *itemAPI) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) > MaxItemIDBytes {
		http.Error(w, fmt.Sprintf("item id longer than %d bytes", MaxItemIDBytes), http.StatusBadRequest)
		return
	}
	item, err := a.store.Get(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeItemJSON(w, http.StatusOK, ItemResponse{ID: id, Version: item.Version, Source: item.Source, Stale: item.Stale})
}

// itemID reads the body of a write: empty, or a JSON object whose "id" is
// a string or an integer; with no id the server picks one.
func (a *itemAPI) itemID(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxItemBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", maxItemBodyBytes), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		}
		return "", false
	}
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "request body must be empty or a JSON object like {\"id\":\"42\"}: "+err.Error(), http.StatusBadRequest)
			return "", false
		}
	}
	raw := bytes.TrimSpace(req.ID)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "s" + strconv.FormatUint(a.nextID.Add(1), 10), true
	}
	var id string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &id); err != nil {
			http.Error(w, "id: "+err.Error(), http.StatusBadRequest)
			return "", false
		}
	} else if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		id = strconv.FormatInt(n, 10)
	} else {
		http.Error(w, "id must be a string or an integer", http.StatusBadRequest)
		return "", false
	}
	if id == "" || len(id) > MaxItemIDBytes {
		http.Error(w, fmt.Sprintf("id must be 1 to %d bytes", MaxItemIDBytes), http.StatusBadRequest)
		return "", false
	}
	return id, true
}

func (a *itemAPI) put(w http.ResponseWriter, r *http.Request) {
	id, ok := a.itemID(w, r)
	if !ok {
		return
	}
	item, err := a.store.Put(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.Header().Set("Location", "/items/"+id)
	writeItemJSON(w, http.StatusCreated, ItemResponse{ID: id, Version: item.Version, Source: item.Source})
}

func (a *itemAPI) submit(w http.ResponseWriter, r *http.Request) {
	id, ok := a.itemID(w, r)
	if !ok {
		return
	}
	body, _ := json.Marshal(jobBody{Item: id}) // cannot fail
	jobID, err := a.jobs.Submit(body)
	if err != nil {
		if errors.Is(err, queue.ErrQueueFull) || errors.Is(err, queue.ErrClosed) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", "/jobs/"+jobID)
	writeItemJSON(w, http.StatusAccepted, JobResponse{ID: jobID, Item: id})
}

// writeStoreError answers a failed store operation: 503 with Retry-After
// when a component shed it (with X-Surge-Breaker: open when a breaker
// did), 503 when the request ended, 400 for an unknown region, 507 when
// the table is full.
func writeStoreError(w http.ResponseWriter, err error) {
	if writeBreakerOpen(w, err) {
		return
	}
	switch {
	case errors.Is(err, resource.ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, data.ErrUnknownRegion):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, data.ErrTableFull):
		http.Error(w, err.Error(), http.StatusInsufficientStorage)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func writeItemJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen with these types
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a write error means the client left
}
