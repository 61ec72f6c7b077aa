// Package gate is the latency-regression gate behind `c10k compare BASE NEW`:
// it reads two bench runs or sets of attack results, judges every scenario,
// core, step and metric against absolute limits, relative thresholds and a
// one-sided Mann-Whitney U test over repeated trials, and renders the verdict
// as a terminal table, Markdown, JSON, JUnit XML or benchstat-style text.
//
// # Inputs
//
// BASE and NEW are each one of:
//   - a bench run directory (its summary.json, read by reports.ReadRun):
//     every step is one trial of the key scenario/core/step, where step is
//     the step's label or its load ("c=100"); repeated trials share a key;
//   - several bench runs of one build, pooled: a directory whose
//     subdirectories are runs, or a comma-separated list of run
//     directories (rounds that alternate BASE and NEW, so that drift of
//     the machine hits both alike);
//   - a directory of `c10k attack --output` files or vegeta results, a single
//     such file, or a comma-separated list of them: every file is one trial
//     of the key attack/MODEL/URL (MODEL is "open rate=R", "closed" or
//     "none"). Every regular file of the directory must be a result, except
//     names starting with "." and the FILE.c10k summaries of vegeta results
//     beside FILE.
//
// Skipped steps are left out. Invalid trials (the generator, not the
// server, was the limit) are dropped; when a side holds invalid trials and
// fewer than Options.MinTrials valid ones remain, its key is invalid.
//
// # Metrics and direction
//
// p50, p90, p99, p999 and probe_p99 are latencies in milliseconds, rss the
// server's resident set in bytes, cpu_per_req its CPU time per request in
// µs, errors the failed share of requests: for all of these higher is
// worse. throughput (successful requests per second) is worse lower. A
// latency, probe, rss or cpu figure of zero means "not measured" and is
// left out of that trial.
//
// # The decision, per key and metric
//
// The figures compared are the medians of the trials of each side; change is
// (NEW - BASE) / BASE. In this order:
//
//  1. invalid: a side has invalid trials and fewer than MinTrials valid ones.
//  2. regression: NEW's median breaks an absolute limit (--max; for
//     throughput the limit is a floor).
//  3. when the change is worse than the relative threshold (--regress):
//     with at least MinTrials trials on each side, a one-sided Mann-Whitney
//     U test of "NEW is worse than BASE" decides: p <= Alpha is a
//     regression, anything else is noise (reported, not failing); with
//     fewer trials the threshold alone decides ("no test: n<3").
//  4. too noisy: the verdict would be ok or noise, BASE has at least two
//     trials with a median above zero, and the spread of BASE's own trials,
//     (max - min) / median, exceeds NoiseFactor times the relative
//     threshold: a shift the size of the threshold could not be told from
//     BASE's own scatter, so no decision is possible.
//  5. ok otherwise.
//
// Each row is tested on its own, so with many rows the chance that noise
// alone passes both the threshold and the test somewhere grows; the
// relative threshold keeps it low, and more trials with a lower Alpha
// lower it further (3 trials a side can reach p = 0.05 at best, 5 trials
// p = 0.004).
//
// The overall verdict is a regression (exit 1) when any row is one; else
// invalid (exit 2) when any row is invalid or too noisy, or when nothing
// could be compared; else a pass (exit 0). Keys present on one side only
// are listed and never fail.
package gate
