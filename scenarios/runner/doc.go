// Package runner runs bench scenarios (package scenarios) against c10k
// cores, real reference servers and external URLs, and records what it
// measured as a reports.Run.
//
// For every scenario, trial and target (targets interleaved, so that a
// drifting machine affects them alike) and every step, Run starts the
// step's backends (`c10k backend`) and a fresh server (`c10k serve
// --core X`, or the reference server with a config generated from the
// same scenario), pinned to Options.ServerCPU while this process — the
// generator — runs on Options.ClientCPU; waits until the server answers;
// runs an unmeasured warm-up at the step's load; then measures the step
// with loadgen.Run while a sampler reads the server's whole process tree
// from /proc (RSS, CPU, threads, processes, open files, context
// switches) and the scenario's events (a backend killed, a blue-green
// deploy) happen on schedule; and finally stops every process it
// started. Each step starts from a fresh server so that no step inherits
// another's memory, threads or killed backends.
//
// A run directory holds:
//
//	meta.json                          where and how the run happened
//	summary.json                       the reports.Run, rewritten after every step
//	raw/<scenario>/<target>/<step>.json  loadgen result (result.ReadFile, `c10k report FILE`)
//	raw/<scenario>/<target>/samples.jsonl  /proc samples, one JSON object a line
//	raw/<scenario>/<target>/server.log, backend-NAME.log, generated configs
//	tls/<scenario>/ca.pem, cert.pem, key.pem  a TLS site's CA and certificate, new every run
//
// A server runs in a short private directory under the system's temporary
// directory (its pid file, temp files, Apache's cgid socket; readable by
// www-data, as Apache's children need), and the site's files live there
// too; the config is copied to the raw directory and the server's own
// logs are appended to server.log when it stops.
//
// With Trials > 1 the step files are <step>-tN.json. A step a target
// cannot run (a reference server without CGI, a missing binary or
// compiler, a file-descriptor limit too low) is recorded as skipped with
// a note; a server that fails to start or dies makes its step invalid;
// neither stops the run. When the context ends, Run kills every child
// process, marks the run interrupted, writes summary.json and returns
// what it had.
package runner
