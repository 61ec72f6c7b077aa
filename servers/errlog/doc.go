// Package errlog writes nginx-style error-log lines ("2026/11/23 02:00:00
// [error] pid#tid: *conn message") for every server core and the engine,
// and renders syscall errors the way nginx does ("(111: Connection refused)").
package errlog
