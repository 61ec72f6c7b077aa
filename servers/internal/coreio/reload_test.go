package coreio

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
)

// reloadEngine builds an engine whose servers listen on addrs, in order.
func reloadEngine(t *testing.T, extra string, addrs ...string) *engine.Engine {
	t.Helper()
	src := "events {}\nhttp {\n"
	for _, a := range addrs {
		src += "server { listen " + a + extra + "; return 200; }\n"
	}
	src += "}\n"
	cfg, err := config.Parse("test.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(cfg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEngineRefReload(t *testing.T) {
	first := reloadEngine(t, "", "127.0.0.1:8080", "127.0.0.1:8081")
	r := NewEngineRef(first)
	if got := r.Load().Engine; got != first {
		t.Fatal("Load does not return the first engine")
	}
	if ls := r.Listeners(); len(ls) != 2 || ls[0].Addr != "127.0.0.1:8080" || ls[1].Addr != "127.0.0.1:8081" {
		t.Fatalf("Listeners() = %v", ls)
	}

	// The same addresses in the other order: the bound sockets map to
	// the new engine's indexes.
	swapped := reloadEngine(t, "", "127.0.0.1:8081", "127.0.0.1:8080")
	if err := r.Reload(swapped); err != nil {
		t.Fatalf("Reload with the addresses reordered: %v", err)
	}
	cur := r.Load()
	if cur.Engine != swapped {
		t.Fatal("Reload did not swap the engine")
	}
	for i, want := range []struct {
		addr  string
		index int
	}{{"127.0.0.1:8080", 1}, {"127.0.0.1:8081", 0}} {
		conf, index, ok := cur.Listener(i)
		if !ok || conf.Addr != want.addr || index != want.index {
			t.Errorf("Listener(%d) = %s, %d, %v; want %s, %d", i, conf.Addr, index, ok, want.addr, want.index)
		}
		if got := cur.Index(i); got != want.index {
			t.Errorf("Index(%d) = %d, want %d", i, got, want.index)
		}
	}
	if got := cur.Index(5); got != 5 {
		t.Errorf("Index(5) of two listeners = %d, want 5 (unmapped)", got)
	}
	if _, _, ok := cur.Listener(2); ok {
		t.Error("Listener(2) of two listeners is ok")
	}
	l := &Listener{Index: -1, Conf: engine.Listener{Addr: "own"}}
	if conf, index := cur.ListenerOf(l); conf.Addr != "own" || index != -1 {
		t.Errorf("ListenerOf a socket the engine does not know = %s, %d; want its own", conf.Addr, index)
	}

	// Listen changes are refused and the current engine stays.
	for name, e := range map[string]*engine.Engine{
		"new address":  reloadEngine(t, "", "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082"),
		"gone address": reloadEngine(t, "", "127.0.0.1:8080"),
		"backlog":      reloadEngine(t, " backlog=10", "127.0.0.1:8080", "127.0.0.1:8081"),
		"reuseport":    reloadEngine(t, " reuseport", "127.0.0.1:8080", "127.0.0.1:8081"),
	} {
		if err := r.Reload(e); !errors.Is(err, ErrListenChanged) {
			t.Errorf("%s: Reload = %v, want %v", name, err, ErrListenChanged)
		}
		if r.Load() != cur {
			t.Errorf("%s: a refused Reload changed the engine", name)
		}
	}
}

// TestEngineRefReloadKeepsZones: a reload carries limit_req's buckets
// over to the new engine, as nginx keeps its shared zones.
func TestEngineRefReloadKeepsZones(t *testing.T) {
	src := []byte("events {}\nhttp {\n" +
		"limit_req_zone $binary_remote_addr zone=z:32k rate=1r/m;\n" +
		"server { listen 127.0.0.1:8080; root " + t.TempDir() + "; location / { limit_req zone=z; } }\n}\n")
	build := func() *engine.Engine {
		cfg, err := config.Parse("test.conf", src)
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(cfg, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	get := func(e *engine.Engine) int {
		var req http1.Request
		req.Reset()
		if _, err := (&http1.Parser{}).Parse([]byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"), &req); err != nil {
			t.Fatal(err)
		}
		var p engine.Plan
		c := engine.Conn{Remote: netip.MustParseAddrPort("10.0.0.1:5000"), Local: netip.MustParseAddrPort("127.0.0.1:8080")}
		e.Serve(&req, c, &p)
		defer p.End(0)
		p.CloseFile()
		return p.Status
	}
	r := NewEngineRef(build())
	if s := get(r.Load().Engine); s != 404 {
		t.Fatalf("first request: %d, want 404 (passed the limit, no file)", s)
	}
	if err := r.Reload(build()); err != nil {
		t.Fatal(err)
	}
	if s := get(r.Load().Engine); s != 503 {
		t.Errorf("second request after a reload: %d, want 503 (the bucket carried over)", s)
	}
}
