package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

// planServer is a c10k core started by `c10k plan --core`, in its own
// process group so that its CGI children stop with it.
type planServer struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startPlanCore checks file like `serve -t`, starts `c10k serve --core
// core -c file` and waits until its first listen address accepts.
func startPlanCore(ctx context.Context, core, file string, stderr io.Writer) (*planServer, error) {
	switch core {
	case "thread", "event", "cgi", "nethttp":
	default:
		return nil, fmt.Errorf("--core %q: want thread, event, cgi or nethttp", core)
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(file, cfg, engine.Options{})
	if err != nil {
		return nil, err
	}
	addr := e.Listeners()[0].Addr
	if host, port, _ := net.SplitHostPort(addr); host == "0.0.0.0" || host == "::" || host == "" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	if strings.HasSuffix(addr, ":0") {
		return nil, fmt.Errorf("%s: listen on a fixed port to plan (port 0 cannot be reached)", file)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: something already listens on %s", file, addr)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s := &planServer{addr: addr, done: make(chan struct{})}
	s.cmd = exec.Command(exe, "serve", "--core", core, "-c", file)
	s.cmd.Stderr = stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s core: %w", core, err)
	}
	go func() { // owned by s: stop waits for it
		s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("the %s core exited before listening on %s: %s", core, addr, s.cmd.ProcessState)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("the " + core + " core did not listen on " + addr + " within 15s")
		}
	}
}

func (s *planServer) url(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + s.addr + path
}

func (s *planServer) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM to the server's group and waits; SIGKILL after 10 s.
func (s *planServer) stop() {
	pg := -s.cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(pg, syscall.SIGKILL)
		<-s.done
	}
}
