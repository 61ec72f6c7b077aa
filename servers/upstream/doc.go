// Package upstream balances requests over the servers of an upstream block
// with nginx's algorithms (round robin, least_conn, ip_hash, hash, random),
// its passive health checks, backup servers and proxy_next_upstream rules.
package upstream
