package loadgen

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Bar draws a one-line progress bar on w (a terminal); Done ends the
// line.
type Bar struct {
	W     io.Writer
	mu    sync.Mutex
	drawn bool
}

// Update redraws the bar for p; it is safe for concurrent use.
func (b *Bar) Update(p Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const width = 30
	frac := 0.0
	if p.Total > 0 {
		frac = min(float64(p.Elapsed)/float64(p.Total), 1)
	}
	fill := int(frac * width)
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Requests) / p.Elapsed.Seconds()
	}
	if p.Phase == "idle" {
		fmt.Fprintf(b.W, "\ropening idle connections (about %s)...", p.Total.Round(time.Second))
	} else {
		fmt.Fprintf(b.W, "\r[%s%s] %3.0f%% %6.1fs  %d requests  %.0f/s  %d errors   ",
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, p.Elapsed.Seconds(), p.Requests, rate, p.Errors)
	}
	b.drawn = true
}

// Done clears the bar's line.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.W, "\r\033[K")
	}
}
