package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
)

// eventLog collects what happened during a step: notes for the reader
// and reasons the step is invalid.
type eventLog struct {
	mu      sync.Mutex
	notes   []string
	invalid []string
}

func (l *eventLog) note(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, fmt.Sprintf(format, a...))
}

func (l *eventLog) fail(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.invalid = append(l.invalid, fmt.Sprintf(format, a...))
}

func (l *eventLog) get() (notes, invalid []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.notes), slices.Clone(l.invalid)
}

// stepEvents returns step i's events in time order.
func stepEvents(s *scenarios.Scenario, i int) []scenarios.Event {
	var evs []scenarios.Event
	for _, e := range s.Events {
		if e.Step == i {
			evs = append(evs, e)
		}
	}
	slices.SortStableFunc(evs, func(a, b scenarios.Event) int { return int(a.At - b.At) })
	return evs
}

// runEvents performs step i's events, each At (scaled) after the load
// began (loadStart delivers that moment), until ctx ends. mark is called
// before the server is replaced, so that the sampler reads the old one
// a last time.
func (k *stack) runEvents(ctx context.Context, i int, loadStart <-chan time.Time, log *eventLog, mark func()) {
	evs := stepEvents(k.sc.s, i)
	if len(evs) == 0 {
		return
	}
	var start time.Time
	select {
	case start = <-loadStart:
	case <-ctx.Done():
		for _, e := range evs {
			log.note("%s at %v not done: the step ended first", describe(e), k.r.scaled(time.Duration(e.At)))
		}
		return
	}
	for n, e := range evs {
		at := k.r.scaled(time.Duration(e.At))
		select {
		case <-time.After(time.Until(start.Add(at))):
		case <-ctx.Done():
			for _, e := range evs[n:] {
				log.note("%s at %v not done: the step ended first", describe(e), k.r.scaled(time.Duration(e.At)))
			}
			return
		}
		since := func() string { return fmt.Sprintf("%.2fs", time.Since(start).Seconds()) }
		switch e.Action {
		case scenarios.ActionKill:
			k.mu.Lock()
			p := k.backends[e.Backend]
			if p == nil && k.direct != nil && strings.HasSuffix(k.direct.name, " "+e.Backend) {
				p = k.direct
			}
			k.mu.Unlock()
			if p == nil {
				log.note("kill-backend %s at %s: no such backend running", e.Backend, since())
				continue
			}
			t := since()
			p.kill()
			log.note("backend %s killed (SIGKILL) at %s", e.Backend, t)
		case scenarios.ActionDeploy:
			k.deploy(ctx, start, log, mark)
		default:
			log.note("event %q at %s: unknown action, not done", e.Action, since())
		}
	}
}

func describe(e scenarios.Event) string {
	if e.Action == scenarios.ActionKill {
		return "kill-backend " + e.Backend
	}
	return e.Action
}

// deploy is a blue-green deploy as a script does it: start the green
// backends and wait for their /health, switch the upstream to them in
// the config, reload the server, wait DeployGrace, stop the blue
// backends.
func (k *stack) deploy(ctx context.Context, start time.Time, log *eventLog, mark func()) {
	since := func() string { return fmt.Sprintf("%.2fs", time.Since(start).Seconds()) }
	k.mu.Lock()
	srv := k.server
	k.mu.Unlock()
	if srv == nil || k.sc.s.Site.Proxy == nil {
		log.note("deploy at %s: no server with a proxy in this step, not done", since())
		return
	}
	t0 := since()
	var greens []string
	for _, b := range k.sc.s.Site.Proxy.Backends {
		if b.Color != "green" {
			continue
		}
		// Not ctx: a deploy once begun is carried through, so that the
		// server is not left without its upstream.
		if _, _, err := k.startBackend(context.WithoutCancel(ctx), b, -1); err != nil {
			log.fail("deploy: green backend %s did not start: %v", b.Name, err)
			return
		}
		greens = append(greens, b.Name)
	}
	healthy := since()
	k.env.Color = "green"
	_, err := k.writeConfig("green")
	if err != nil {
		log.fail("deploy: %v", err)
		return
	}
	// The live config file was rewritten in place: every server re-reads
	// it on its reload signal (c10k and nginx SIGHUP, Apache and lighttpd
	// SIGUSR1 for a graceful restart).
	sig := syscall.SIGHUP
	if k.t.Kind == reports.KindReference {
		sig = k.ref.ref.Reload
	}
	mark()
	if err := srv.signal(sig); err != nil {
		log.fail("deploy: reload: %v", err)
		return
	}
	how := fmt.Sprintf("reloaded (%v)", sig)
	reloaded := since()
	select {
	case <-time.After(DeployGrace):
	case <-ctx.Done():
	}
	var blues []string
	for _, b := range k.sc.s.Site.Proxy.Backends {
		if b.Color != "blue" {
			continue
		}
		k.mu.Lock()
		p := k.backends[b.Name]
		k.mu.Unlock()
		if p != nil {
			p.stop(StopGrace)
			blues = append(blues, b.Name)
		}
	}
	log.note("deploy at %s: green %s healthy at %s; upstream switched, %s at %s; blue %s stopped (SIGTERM) at %s",
		t0, strings.Join(greens, ","), healthy, how, reloaded, strings.Join(blues, ","), since())
}
