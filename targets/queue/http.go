package queue

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// submitAnswer is the body of 202 Accepted.
type submitAnswer struct {
	ID string `json:"id"`
}

func (q *Queue) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(q.cfg.MaxBodyBytes)))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, "job body too large", http.StatusRequestEntityTooLarge)
		}
		return // otherwise the client went away mid-body
	}
	if len(body) == 0 {
		body = nil
	}
	id, err := q.Submit(body)
	switch {
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "1")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil: // ErrBodyTooLarge cannot happen after MaxBytesReader
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("Location", "/jobs/"+id)
	writeJSON(w, http.StatusAccepted, submitAnswer{ID: id})
}

func (q *Queue) handleStatus(w http.ResponseWriter, r *http.Request) {
	s, ok := q.Status(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such job", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen with our types
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a write error means the client left
}
