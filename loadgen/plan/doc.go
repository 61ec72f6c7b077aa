// Package plan finds the highest open-model rate a server sustains within
// a latency and error objective (SLO), and sizes a deployment from it: the
// instances a target rate needs with headroom, and per instance the
// connections, worker threads (Little's law), file descriptors and memory
// the load asks for. It drives any measuring function, so it plans for a
// URL and for a c10k core alike.
package plan
