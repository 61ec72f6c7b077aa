// Package loadgen is c10k's load generator, behind `c10k attack`. It
// drives any HTTP/1.1 server.
//
// Models (Options.Model):
//
//   - Open: requests start on a schedule (a Shape: constant, ramp, steps,
//     sine, Poisson) whatever the server does. Each step runs one
//     github.com/tsenart/vegeta/v12 Attacker with the Schedule as its
//     Pacer over one shared *http.Transport (HTTP/1.1 only, bodies
//     drained). Every result's latency counts from its intended start —
//     the step's start plus Schedule.Offset of its sequence number — so a
//     stalled server cannot hide queueing behind a waiting generator
//     (coordinated omission, corrected as wrk2 does); the service time
//     (from the actual send) and the schedule lag (intended to actual
//     start) are kept beside it.
//   - Closed: Connections connections each send back-to-back requests,
//     for maximum throughput. This is wrk's design: one epoll loop per
//     GOMAXPROCS on non-blocking sockets, raw HTTP/1.1 with reused
//     buffers, one HdrHistogram per loop, merged at the end.
//   - Slow readers, beside any model (Options.SlowReaders): clients that
//     fetch a path and read the answers at a low fixed rate for as long
//     as the load runs, as slow networks do.
//   - C10k control, alone or beside either model: an idle keep-alive set
//     (HoldIdle), fresh-connection probes (Probe), source-address spreading
//     (Dialer) and a preflight of fd limits and ephemeral ports
//     (Preflight, ErrPreflight) before any connection.
//
// TLS. An https:// URL makes every connection of every model — load,
// idle set, probes, slow readers — a crypto/tls client (Options.TLS:
// --insecure, --cacert, --tls-resume, --tls-version); the Dialer does the
// handshake, so each one is timed and counted: Summary.TLS holds the
// load connections' handshakes, resumed ones and handshakes per second,
// with their latency in Hist.Handshake. Every new connection does a full
// handshake unless TLSOptions.Resume keeps a session cache. The open
// model hands the connections to vegeta's transport as already past TLS
// (DialTLSContext); the closed model runs TLS connections as goroutines
// on Go's netpoller, because crypto/tls cannot work on the raw
// non-blocking sockets of its epoll loops (closed_tls.go). Before the
// load one handshake is tried: a certificate the client cannot trust is
// one error wrapping ErrTLS, not one per request.
//
// Validity. An open-model run is invalid when the generator, not the
// server, kept it from its schedule: it started fewer than 99 % of the
// scheduled requests per second AND either its CPU was saturated (user +
// system time at least 95 % of the CPUs it may use) or most ticks the
// pacer issued late (more than LateAfter behind) came while the requests
// in flight were below the connection limit — a worker was free, so the
// wait was the generator's. When the late ticks came with every allowed
// request in flight, the server was the cause: the run stays valid, the
// wait is in the latency, and Summary.Note says so.
//
// Both models count every finished request into a timeline of
// result.TimelineBucket steps by the moment it finished, successes apart
// from errors (Summary.Timeline); in the closed model a failed connect is
// retried, not a request, so it shows in Connections.Failed and Errors,
// not in the timeline.
//
// Results are a result.Summary (package loadgen/result), which reads,
// writes and merges them.
package loadgen
