package coreio

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/upstream"
)

// TestAcceptErrors checks that an episode of accept4 shortages is
// logged once when it begins and once when it ends, however many
// retries it takes, and that the next episode is logged again.
func TestAcceptErrors(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	var a AcceptErrors
	var lines []string
	steps := []error{unix.EMFILE, unix.EMFILE, unix.EMFILE, nil, nil, &os.SyscallError{Syscall: "accept4", Err: unix.ENFILE}, nil}
	for _, err := range steps {
		if err != nil {
			lines = append(lines, a.Failed(addr, err))
		} else {
			lines = append(lines, a.Recovered(addr))
		}
	}
	want := []string{
		"accept4() on 127.0.0.1:80 failed (24: Too many open files); accepting pauses 500ms at a time until descriptors are free",
		"", "",
		"accept4() on 127.0.0.1:80 works again after 3 failed attempts",
		"",
		"accept4() on 127.0.0.1:80 failed (23: Too many open files in system); accepting pauses 500ms at a time until descriptors are free",
		"accept4() on 127.0.0.1:80 works again after 1 failed attempts",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%q\nwant:\n%q", lines, want)
	}
}

// TestShortageErrors checks which errors are shortages of descriptors
// or memory, and that an upstream socket() without a descriptor is this
// server's failure.
func TestShortageErrors(t *testing.T) {
	for _, tt := range []struct {
		err       error
		shortage  bool
		outOfFile bool
		fail      upstream.Failure
	}{
		{unix.EMFILE, true, true, upstream.FailLocal},
		{unix.ENFILE, true, true, upstream.FailLocal},
		{fmt.Errorf("dial: %w", &os.SyscallError{Syscall: "socket", Err: unix.EMFILE}), true, true, upstream.FailLocal},
		{unix.ENOBUFS, true, false, upstream.FailError},
		{unix.ECONNREFUSED, false, false, upstream.FailError},
		{ErrTimeout, false, false, upstream.FailTimeout},
	} {
		if got := AcceptShortage(tt.err); got != tt.shortage {
			t.Errorf("AcceptShortage(%v) = %v, want %v", tt.err, got, tt.shortage)
		}
		if got := OutOfFiles(tt.err); got != tt.outOfFile {
			t.Errorf("OutOfFiles(%v) = %v, want %v", tt.err, got, tt.outOfFile)
		}
		if got := Classify(tt.err); got != tt.fail {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.fail)
		}
	}
}
