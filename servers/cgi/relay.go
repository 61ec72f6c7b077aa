package cgi

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// childClient returns the descriptor a child gets as its client socket
// (fd 3): -1 for the connection's own socket, passed as it is; on an
// SSL listener, the child's end of a socketpair whose other end a relay
// reads and sends through the connection's TLS layer, as Apache's
// mod_cgi output passes through mod_ssl. The child writes the response
// as it always does; its send_timeout meets the relay's backpressure.
// Hang-ups are still seen on the client's own socket (watch).
func (c *conn) childClient(sendTimeout time.Duration) (fd int, rl *relay, err error) {
	if c.tls == nil {
		return -1, nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	unix.SetNonblock(fds[0], true) // the parent's end waits in the netpoller
	rl = &relay{c: c, f: os.NewFile(uintptr(fds[0]), "child client relay"), timeout: sendTimeout, done: make(chan struct{})}
	return fds[1], rl, nil
}

// relay copies what one child writes to its client socket to the TLS
// client. Its goroutine ends when the child's end closes (the child
// exited) or the client cannot take more within send_timeout; closing
// its end then fails the child's next write (EPIPE), which the child
// reports as a client error.
type relay struct {
	c       *conn
	f       *os.File
	timeout time.Duration
	done    chan struct{}
}

// start runs the relay; ok false (the child did not start) only
// releases it.
func (r *relay) start(ok bool) {
	if !ok {
		r.f.Close()
		close(r.done)
		return
	}
	go r.run()
}

func (r *relay) run() {
	defer close(r.done)
	defer r.f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.f.Read(buf)
		if n > 0 {
			if r.timeout > 0 {
				r.c.rw.SetWriteDeadline(time.Now().Add(r.timeout))
			}
			m, werr := r.c.rw.Write(buf[:n])
			r.c.relayN.Add(int64(m))
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait returns when the relay has passed on everything the child wrote
// (or given up on the client).
func (r *relay) wait() { <-r.done }
