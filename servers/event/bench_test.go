package event_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/event"
)

// serverEnv makes the test binary a bare event server for the config it
// names (the RSS benchmarks' subprocess): it prints the address, answers
// each line on its stdin with a line "GOROUTINES IDLE HANDSHAKING",
// serves until its stdin closes, and exits.
const serverEnv = "C10K_EVENT_SERVER_CONF"

func TestMain(m *testing.M) {
	if conf := os.Getenv(serverEnv); conf != "" {
		os.Exit(runServer(conf))
	}
	os.Exit(m.Run())
}

func runServer(conf string) int {
	raiseFileLimit()
	cfg, err := config.Load(conf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := engine.New(cfg, engine.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := event.New(e, event.Options{Loops: 1})
	if err == nil {
		err = s.Listen()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(s.Addrs()[0])
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			st := s.Stats()
			fmt.Printf("%d %d %d\n", runtime.NumGoroutine(), st.Idle, st.Handshaking)
		}
		cancel()
		return nil
	})
	if err := s.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	g.Wait()
	return 0
}

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard one.
func raiseFileLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	rl.Cur = rl.Max
	unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// vmRSS returns the VmRSS of process pid in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// BenchmarkIdleRSS runs the server in a subprocess (this test binary
// re-executed), opens 10,000 keep-alive connections that each complete
// one request and then sit idle, and reports the server's RSS growth per
// idle connection (bytes/idle-conn), read from /proc/PID/status.
func BenchmarkIdleRSS(b *testing.B) {
	const conns = 10000
	st := newSite(b, siteOptions{workerConnections: conns + 100})
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	benchIdle(b, st.conf, conns, func(addr string) (net.Conn, error) {
		nc, err := net.DialTimeout("tcp", addr, waitBudget)
		if err != nil {
			return nil, err
		}
		return nc, getOnce(nc, req)
	})
}

// getOnce sends req on nc and reads the response to a 1 KiB file.
func getOnce(nc net.Conn, req []byte) error {
	nc.SetDeadline(time.Now().Add(waitBudget))
	if _, err := nc.Write(req); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	got := 0
	for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) || got < 1024 {
		n, err := nc.Read(buf[got:])
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

// benchIdle runs the server subprocess on conf, opens conns connections
// with open (each completes one request and then sits idle), and
// reports the server's RSS growth per idle connection and its
// goroutines (the process's, all of them) with them open.
func benchIdle(b *testing.B, conf string, conns int, open func(addr string) (net.Conn, error)) {
	if limit := raiseFileLimit(); limit < uint64(conns)+100 {
		b.Skipf("RLIMIT_NOFILE %d is below %d", limit, conns+100)
	}
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), serverEnv+"="+conf)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		out := bufio.NewReader(stdout)
		line, err := out.ReadString('\n')
		if err != nil {
			b.Fatalf("server subprocess: %v", err)
		}
		addr := strings.TrimSpace(line)
		pid := cmd.Process.Pid
		stats := func() (goroutines, idle, handshaking int) {
			io.WriteString(stdin, "stats\n")
			line, err := out.ReadString('\n')
			if err != nil {
				b.Fatalf("server subprocess stats: %v", err)
			}
			fmt.Sscan(line, &goroutines, &idle, &handshaking)
			return
		}

		// Warm up: a few connections, so the loop's first exchange and
		// the runtime's structures exist before measuring.
		for range 10 {
			nc, err := open(addr)
			if err != nil {
				b.Fatalf("warm-up: %v", err)
			}
			nc.Close()
		}
		time.Sleep(100 * time.Millisecond) // let RSS settle; not an assertion
		before, err := vmRSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		g0, _, _ := stats()
		ncs := make([]net.Conn, 0, conns)
		start := time.Now()
		for range conns {
			nc, err := open(addr)
			if err != nil {
				b.Fatalf("conn %d: %v", len(ncs), err)
			}
			ncs = append(ncs, nc)
		}
		opened := time.Since(start)
		time.Sleep(200 * time.Millisecond)
		after, err := vmRSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		g1, idle, hs := stats()
		b.ReportMetric(float64(after-before)/float64(conns), "bytes/idle-conn")
		b.ReportMetric(float64(after)/(1<<20), "MiB-rss")
		b.ReportMetric(float64(conns)/opened.Seconds(), "conns/s")
		b.ReportMetric(float64(g1), "goroutines")
		b.ReportMetric(float64(g1-g0), "goroutines-added")
		if idle != conns || hs != 0 {
			b.Errorf("server: %d idle connections and %d handshakes running, want %d and 0", idle, hs, conns)
		}
		for _, nc := range ncs {
			nc.Close()
		}
		stdin.Close()
		cmd.Wait()
	}
}

// BenchmarkStatic1K measures requests per second for a 1 KiB static
// file with one loop and 100 keep-alive connections from clients in this
// process over loopback.
func BenchmarkStatic1K(b *testing.B) {
	st := newSite(b, siteOptions{keepaliveRequests: 1 << 30})
	benchStatic(b, st.conf, func(addr string) *client { return dial(b, addr) })
}

// benchStatic runs BenchmarkStatic1K's load on the server for conf,
// its connections opened by open.
func benchStatic(b *testing.B, conf string, open func(addr string) *client) {
	s := newServerTB(b, conf, event.Options{Loops: 1})
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return s.Serve(ctx) })
	defer func() { cancel(); g.Wait() }()
	addr := s.Addrs()[0].String()

	const conns = 100
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: bench\r\n\r\n")
	// Every response has the same length (the Date field is fixed-width).
	c := open(addr)
	c.mustGet(b, "/1k.txt", 200)
	c.nc.Write(req)
	probe := make([]byte, 8192)
	c.nc.SetReadDeadline(time.Now().Add(waitBudget))
	respLen := 0
	for {
		n, err := c.nc.Read(probe[respLen:])
		if err != nil {
			b.Fatal(err)
		}
		respLen += n
		if i := bytes.Index(probe[:respLen], []byte("\r\n\r\n")); i >= 0 && respLen >= i+4+1024 {
			break
		}
	}
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		ncs[i] = open(addr).nc
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, respLen)
			for left.Add(-1) >= 0 {
				if _, err := nc.Write(req); err != nil {
					failed.Store(err)
					return
				}
				if _, err := io.ReadFull(nc, buf); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
