package queue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/surgeload/surge/targets/queue"
)

func ExampleNew() {
	cfg := queue.DefaultConfig()
	cfg.Workers = 2
	cfg.MaxAttempts = 3
	cfg.BackoffBase = time.Millisecond
	cfg.Process = func(ctx context.Context, job queue.Job) error {
		if job.Attempt < 2 {
			return fmt.Errorf("attempt %d: db timeout", job.Attempt)
		}
		return nil // a DB write could go here
	}
	q, err := queue.New("jobs", cfg, nil) // nil: no metrics registered
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	id, _ := q.Submit([]byte(`{"email":"welcome"}`))
	poison, _ := q.Submit([]byte(`{"poison":true}`))
	for _, id := range []string{id, poison} {
		for {
			s, _ := q.Status(id)
			if s.State == queue.Done || s.State == queue.Dead {
				fmt.Printf("job %s: %s after %d attempts, last error %q\n", s.ID, s.State, s.Attempts, s.LastError)
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Output:
	// job 1: done after 2 attempts, last error "attempt 1: db timeout"
	// job 2: dead after 3 attempts, last error "poison job"
}
