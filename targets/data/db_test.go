package data

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/resource"
)

// testDB is a Backend for tests: resource's DB with pool connections, a
// queue of 100 and a constant 100 µs per read or write.
func testDB(name string, pool int, reg prometheus.Registerer) (*resource.DB, error) {
	return resource.NewDB(name, resource.DBConfig{Pool: pool, QueueLimit: 100,
		Read: resource.Constant(100 * time.Microsecond), Write: resource.Constant(100 * time.Microsecond)}, reg)
}
