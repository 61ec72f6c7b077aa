// Package soak runs one server core under mixed load with faults
// injected for a set time (make soak), then checks the two things a long
// run shows and a short test does not: every request the generator sent
// got exactly one response or one counted error, and the server's RSS and
// open descriptors come back to their baseline once the load stops.
package soak
