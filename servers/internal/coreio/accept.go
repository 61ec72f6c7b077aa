package coreio

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/errlog"
)

// AcceptDelay is how long a core stops accepting after accept4 failed
// for lack of descriptors or memory, as nginx disables its accept
// events for accept_mutex_delay (500ms): the pending connections wait
// in the listen backlog instead of making the core spin on them.
const AcceptDelay = 500 * time.Millisecond

// AcceptShortage reports whether err, from accept4, means the process
// or the system is out of descriptors (EMFILE, ENFILE) or of socket
// memory (ENOBUFS, ENOMEM): the connection waits in the backlog, and
// accepting must pause rather than retry at once.
func AcceptShortage(err error) bool {
	return OutOfFiles(err) || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

// AcceptErrors follows the episodes in which an accepting thread (or
// event loop) cannot accept for a shortage (AcceptShortage), so that
// its error log says it once when an episode begins, nginx's
// "accept4() failed (24: Too many open files)" at crit, and once when
// it ends, instead of once per retry. It is not safe for concurrent
// use: each accepting thread or loop has its own, and logs the lines
// its methods return.
type AcceptErrors struct {
	failures int // of the current episode
}

// Failed records a failed accept4 on addr. When it begins an episode
// it returns the line to log at crit, else "".
func (a *AcceptErrors) Failed(addr netip.AddrPort, err error) string {
	a.failures++
	if a.failures > 1 {
		return ""
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = errno // the bare errno, for its nginx wording
	}
	return fmt.Sprintf("accept4() on %s failed %s; accepting pauses %v at a time until descriptors are free",
		addr, errlog.ErrnoText(err), AcceptDelay)
}

// Recovered records an accept4 that did not fail for a shortage: it
// accepted, or found no connection waiting. When that ends an episode
// it returns the line to log at notice, with the count of failed
// attempts, else "".
func (a *AcceptErrors) Recovered(addr netip.AddrPort) string {
	if a.failures == 0 {
		return ""
	}
	n := a.failures
	a.failures = 0
	return fmt.Sprintf("accept4() on %s works again after %d failed attempts", addr, n)
}

// Failing reports whether an episode is in progress.
func (a *AcceptErrors) Failing() bool { return a.failures > 0 }
