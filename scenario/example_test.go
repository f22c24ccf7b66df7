package scenario_test

import (
	"errors"
	"fmt"

	"github.com/surgeload/surge/scenario"
)

func ExampleParse() {
	src := []byte(`
name: quickstart
stages:
  - bundled: echo
  - url: http://127.0.0.1:8080
requests:
  - path: /items/1
  - {method: post, path: /items, body: '{"n":1}'}
load:
  constant: {rate: 10k/s, duration: 1m30s}
`)
	s, err := scenario.Parse("quickstart.yaml", src, scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range s.Stages {
		fmt.Println("stage:", st.Name)
	}
	for _, r := range s.Requests {
		fmt.Println("request:", r.Name)
	}
	c := s.Load.Constant
	fmt.Printf("load: %v for %v (%.0f requests per second)\n", c.Rate, c.Duration, float64(c.Rate))
	// Output:
	// stage: echo
	// stage: 127.0.0.1:8080
	// request: GET /items/1
	// request: POST /items
	// load: 10k/s for 1m30s (10000 requests per second)
}

func ExampleParse_errors() {
	src := []byte(`name: broken
stages:
  - bundled: echo
    url: http://127.0.0.1:8080
requests:
  - path: items
    retries: 3
load:
  constant: {rate: 0, duration: 5s}
`)
	_, err := scenario.Parse("broken.yaml", src, scenario.Options{})
	fmt.Println(err)
	fmt.Println("invalid:", errors.Is(err, scenario.ErrInvalid))
	// Output:
	// broken.yaml:3:5: stage must set one of url or bundled, not both
	// broken.yaml:6:11: path must start with "/" (got "items")
	// broken.yaml:7:5: unknown field "retries" (known fields: name, method, path, headers, body, timeout)
	// broken.yaml:9:20: rate must be > 0 (got 0)
	// invalid: true
}

func ExampleParseRate() {
	for _, s := range []string{"2000", "1.5k", "10k/s", "120/m"} {
		r, err := scenario.ParseRate(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-6s = %v\n", s, r)
	}
	// Output:
	// 2000   = 2000/s
	// 1.5k   = 1500/s
	// 10k/s  = 10k/s
	// 120/m  = 2/s
}
