// Package scenarios holds the bench's experiments as data: one JSON file
// per scenario (site, load steps, events, what to sample), the loader
// that checks them, and the generators of every server's config (c10k
// and nginx, Apache 2.4, lighttpd) from one scenario.
package scenarios
