package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress is the live status line and the log. The line is redrawn in
// place (\r); a log line first clears it, so that both can share a
// terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer // the live line; nil: none
	log   io.Writer // finished steps and notes; nil: none
	start time.Time
	width int // of the line on screen

	total, done int           // work items
	remaining   time.Duration // estimated time of the items not started
	cur         string        // what runs now
	curStart    time.Time
	curEst      time.Duration
	detail      string // the current step's phase and counts
}

func newProgress(w, log io.Writer) *progress {
	return &progress{w: w, log: log, start: time.Now()}
}

// begin says a work item (one step on one target) starts.
func (p *progress) begin(what string, est time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.curStart, p.curEst, p.detail = what, time.Now(), est, ""
	p.remaining = max(p.remaining-est, 0)
	p.drawLocked()
}

// end says the current item finished.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.cur = ""
}

// phase updates the current item's detail ("warm-up", "load 1.2s/4s
// 34512 req").
func (p *progress) phase(detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.detail = detail
	p.drawLocked()
}

// left is the estimated time until the run ends.
func (p *progress) leftLocked() time.Duration {
	left := p.remaining
	if p.cur != "" {
		left += max(p.curEst-time.Since(p.curStart), 0)
	}
	return left
}

func (p *progress) drawLocked() {
	if p.w == nil {
		return
	}
	line := fmt.Sprintf("[%d/%d] %s", min(p.done+1, p.total), p.total, p.cur)
	if p.detail != "" {
		line += " · " + p.detail
	}
	line += fmt.Sprintf(" · %s elapsed, ~%s left", round(time.Since(p.start)), round(p.leftLocked()))
	pad := ""
	if n := len([]rune(line)); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = len([]rune(line))
	fmt.Fprint(p.w, "\r"+line+pad)
}

func (p *progress) clearLocked() {
	if p.w == nil || p.width == 0 {
		return
	}
	fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	p.width = 0
}

// logf writes one log line, above the live line.
func (p *progress) logf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		return
	}
	p.clearLocked()
	fmt.Fprintf(p.log, format+"\n", a...)
	if p.cur != "" {
		p.drawLocked()
	}
}

// close clears the live line.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
