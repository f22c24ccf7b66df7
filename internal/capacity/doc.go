// Package capacity is the planning arithmetic behind `coordinator plan`:
// the classic scaling staircase from a daily request volume down to
// servers, read replicas, shards, queue drain time and cross-region page
// latency, and a predicted throughput ceiling for each bundled reference
// topology. Every number comes with its working, so a planner can check
// it by hand and then check it against a measured run.
//
//	p, err := capacity.Compute(capacity.Inputs{
//		DailyRequests: 100e6, PeakMultiplier: 5, PerServerRPS: 300, Headroom: 1.3, ReadFraction: 0.9,
//	})
//	if err != nil {
//		return err
//	}
//	for _, s := range p.Steps {
//		fmt.Printf("%s: %s = %s %s\n", s.Label, s.Working, capacity.FormatNumber(s.Value), s.Unit)
//	}
//
// # The staircase
//
// Compute applies, in order (each step is skipped, with a note, when one
// of its inputs is not given):
//
//	average          = daily_requests ÷ 86,400 s                 100M/day → 1,157.4 req/s
//	peak             = average × peak_multiplier                 1,157.4 × 5 → 5,787 req/s
//	app servers      = ⌈peak ÷ per_server_rps⌉                   ⌈5,787 ÷ 300⌉ = ⌈19.29⌉ → 20
//	with headroom    = ⌈servers × headroom⌉                      ⌈20 × 1.3⌉ → 26
//	reads            = peak × read_fraction
//	writes           = peak − reads
//	db reads         = reads × (1 − cache_hit_rate)              cache-aside: only misses reach the database
//	read replicas    = ⌈db reads ÷ replica_read_rps⌉
//	shards           = max(1, ⌈writes ÷ primary_write_ceiling⌉)
//	queue throughput = μ = queue_workers ÷ queue_job_time        jobs/s
//	workers needed   = ⌈writes × queue_job_time⌉                 Little's law: busy workers = λ·J
//	spike jobs       = writes × spike_multiplier
//	spike backlog    = max(0, (spike jobs − μ) × spike_hold)
//	drain time       = backlog ÷ (μ − writes)                    only when μ > writes, else it never drains
//	page latency     = calls_per_page × region_rtt               sequential calls, one round trip each
//
// The design rate: everything after the peak step is computed from the
// peak when a peak multiplier is given, and from the average otherwise (a
// note says so). In particular the cache hit rate is applied to the reads
// at that design rate. The planners' rule of thumb "90% cache hits on
// 1,160 reads/s leave 116 DB reads/s" is this arithmetic at the average
// rate of 100M requests/day with every request a read: 100,000,000 ÷
// 86,400 = 1,157.4 reads/s (≈ 1,160), × (1 − 90%) = 115.7 ≈ 116.
//
// The queue takes the writes: a queue stage answers writes with 202 and a
// job id and lets workers do them, so the jobs arrive at the write rate
// (set read_fraction to 0 to treat every request as a job). After a spike
// the jobs keep arriving at the design rate's writes, so the backlog
// drains at μ − writes, not μ.
//
// Counts are rounded up with a tolerance of one part in 10¹³, so that
// binary floating-point noise does not add a machine: 50 servers × 1.1
// headroom evaluates to 55.00000000000001 in float64 and must give 55
// servers, not 56.
//
// # Predicted ceilings
//
// Ceiling predicts the sustained throughput, in req/s, of each bundled
// stage from the same inputs. It is a simple, explicit model — a
// prediction to be checked by measurement, not a measurement. Symbols:
// P = per_server_rps, f = read_fraction, h = cache_hit_rate, R =
// replica_read_rps (the reads/s one database copy serves; the primary is
// assumed to be the same kind of machine as a replica), W =
// primary_write_ceiling, μ = queue_workers ÷ queue_job_time. From lb on, a
// stage is predicted as built to this plan: N = the plan's app servers
// (with headroom when given), K = its read replicas, S = its shards. A
// term whose load is zero (no reads, no writes, every read a cache hit)
// is left out of the min.
//
//	single-box    1 ÷ (1/P + f/R + (1−f)/W)          app and database share one machine, so their costs per request add
//	split         min(P, 1 ÷ (f/R + (1−f)/W))         app and database on their own machines; the slower one limits
//	cache         min(P, 1 ÷ (f(1−h)/R + (1−f)/W))    cache-aside: only misses read the database; the cache itself is not a limit
//	lb            min(N·P, 1 ÷ (f(1−h)/R + (1−f)/W))  N app servers behind a load balancer that is not a limit, one database
//	replicas      min(N·P, K·R ÷ f(1−h), W ÷ (1−f))   reads that miss go to K replicas, writes to the primary only
//	sharding      min(N·P, K·R ÷ f(1−h), S·W ÷ (1−f)) writes spread evenly over S primaries (hash partitioning; skew lowers it)
//	queue         min(N·P, K·R ÷ f(1−h), S·W ÷ (1−f), μ ÷ (1−f))
//	                                                  writes become jobs; sustained only up to the workers, bursts wait in the queue
//	multi-region  as queue, per region                each region runs the queue stage's stack for its nearest users;
//	                                                  cross-region round trips add latency to each page, not a throughput limit
//
// Ceilings collects the predictions of several stages as a Plan, so the
// plan's renderer shows them with their working beside the staircase.
//
// # Bottleneck analysis of a configured system
//
// Ceiling sizes stages from planning inputs. Bottleneck instead analyses a
// system whose components are given, as a queueing network of stations:
// station k has c_k servers (slots, pool connections, CPUs, workers) and a
// demand D_k, the mean time it is busy per request of the mix (visits ×
// mean service time, summed over the kinds of request; a server held while
// it waits for a downstream call counts that wait too). By the utilisation
// law U_k = X·D_k ÷ c_k, station k saturates at X = c_k ÷ D_k, so
//
//	ceiling = min_k c_k ÷ D_k      and the bottleneck is the argmin
//
// N identical stations sharing the load evenly are one station of N × c
// servers and the whole demand. The ceiling is an upper bound on sustained
// throughput: queueing makes response times grow long before it.
// predict.Stage builds the stations of a bundled stage from its
// topology config and the scenario's request mix.
//
// # Concurrency
//
// The package is pure arithmetic: no goroutines, clocks or I/O. Every
// function is safe for concurrent use.
package capacity
