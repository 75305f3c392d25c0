// Package bench holds the benchmarks behind `make bench`.
//
// BenchmarkPipeline measures the event pipeline end to end on real pieces: a
// durable PostgreSQL cluster (synchronous_commit on), an embedded JetStream
// server with file storage, the transactional outbox, the relay woken after
// each commit by the outbox (no NOTIFY) and a messaging.Processor in a
// second database. In the same run it measures the ceilings the pipeline is
// compared with (the bare row + outbox transaction, bare JetStream
// publishes) and prints one "BENCH <name> <value> <unit> ..." line per
// figure on stdout; see docs/benchmarks.md for what each line means and for
// past results.
//
// Run it with -benchtime 1x: one call of the benchmark is one full run of
// every phase (about 80 s on a quiet machine). Details of each phase (CPU
// split, relay batch sizes, a timeline) go to stderr. CLINICOPS_BENCH_DIAG=1
// adds diagnostic phases (each stage of the pipeline alone, what the old
// NOTIFY trigger cost, consumer transactions batched, a worker sweep, what
// Postgres backends wait on), also on stderr, not as BENCH lines.
package bench
