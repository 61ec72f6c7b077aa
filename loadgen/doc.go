// Package loadgen is c10k's load generator: connection control (source
// addresses, preflight of fd and port limits, held idle keep-alive sets) and
// open-loop probes with coordinated-omission-free latency in HdrHistograms.
package loadgen
