// Package result is the load generator's measurement record: a Summary of
// one run (counts, status codes, errors, connection and fairness figures,
// generator health, a timeline of successes and errors in TimelineBucket
// steps, slow-reader counts, TLS handshake figures) with its latency HdrHistograms, how to read
// and write it as a file, and how to merge the summaries of several shards
// into one.
//
// A summary file starts with the line "c10k-result v1" followed by one JSON
// object whose histograms are HdrHistogram V2 compressed, base64 encoded.
// Read also accepts vegeta result files (gob, JSON or CSV, as `vegeta
// attack` writes them) and rebuilds a summary from their results; when an
// open-model run wrote FILE as vegeta results, its summary sits beside it as
// FILE.c10k (SidecarPath) and Read prefers that.
package result
