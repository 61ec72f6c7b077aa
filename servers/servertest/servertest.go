package servertest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/backend"
)

// Virtual hosts of the suite's config. All server blocks listen on the
// same address; defaultHost names the default_server.
const (
	defaultHost = "default.test"
	exactHost   = "exact.test"
	wildSuffix  = ".wild.test"      // server_name *.wild.test
	exactInWild = "exact.wild.test" // an exact name that also matches *.wild.test
	kaHost      = "ka.test"         // keepalive_requests 3
	smallHost   = "small.test"      // client_max_body_size 1k
)

// keepaliveRequests is keepalive_requests in the kaHost server.
const keepaliveRequests = 3

// suite is the running environment the cases share.
type suite struct {
	addr     string // the core's address
	site     *site
	backends map[string]string // backend name → address
	// Stubs: deliberately broken upstream servers, one per case.
	markdown, postNoRetry, postRetry, s503 *stub
}

// Run runs the conformance suite against the core start starts. It
// writes a config, a docroot and starts real backends ("a", "b", and "c"
// which answers every request with 500) on 127.0.0.1:0, calls start
// once, and runs every case as a sub-test of t; then the allow/deny and
// add_header cases (RunAccess), the gzip cases (RunGzip), the reload cases (RunReload), the
// access-log cases (RunLogs), the limit_req/limit_conn cases
// (RunLimits) and the TLS cases (RunTLS), each on a core of their own.
func Run(t *testing.T, start Start) {
	s := setup(t)
	s.addr = start(t, filepath.Join(s.site.root, "..", "nginx.conf")).Addr
	if s.addr == "" {
		t.Fatal("Start returned an empty address")
	}
	// Every case needs the simplest request to work; without it they
	// would all fail the same way, each after IOTimeout.
	c, err := Dial(s.addr)
	if err != nil {
		t.Fatalf("the core does not accept connections on %s: %v", s.addr, err)
	}
	r, err := c.RoundTrip("GET", []byte(request("GET", "/whoami", defaultHost, "Connection: close")))
	c.Close()
	if err != nil {
		t.Fatalf("the core does not answer GET /whoami: %v", err)
	}
	if r.Status != 200 || string(r.Body) != "default" {
		t.Fatalf("the core answers GET /whoami with:\n%s\nwant 200 \"default\"", r)
	}
	// Groups run one after the other; the cases of a group run in
	// parallel where they share no connection or upstream state.
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, s) })
	}
	t.Run("access", func(t *testing.T) { RunAccess(t, start) })
	t.Run("gzip", func(t *testing.T) { RunGzip(t, start) })
	t.Run("reload", func(t *testing.T) { RunReload(t, start) })
	t.Run("logs", func(t *testing.T) { RunLogs(t, start) })
	t.Run("limits", func(t *testing.T) { RunLimits(t, start) })
	t.Run("tls", func(t *testing.T) { RunTLS(t, start) })
}

// groups are the case groups, run in this order.
var groups = []struct {
	name string
	run  func(*testing.T, *suite)
}{
	{"static", testStatic},
	{"conditional", testConditional},
	{"range", testRange},
	{"head", testHead},
	{"return", testReturn},
	{"vhosts", testVhosts},
	{"keepalive", testKeepalive},
	{"pipelining", testPipelining},
	{"request-body", testRequestBody},
	{"proxy", testProxy},
	{"upstream-failure", testUpstreamFailure},
	{"broken-body", testBrokenBody},
	{"malformed", testMalformed},
	{"concurrency", testConcurrency},
}

// setup builds the docroot, starts backends and stubs, and writes the
// config next to the docroot.
func setup(t *testing.T) *suite {
	t.Helper()
	dir := t.TempDir()
	s := &suite{site: newSite(t, dir), backends: map[string]string{}}
	addrs := startBackends(t,
		backend.Options{Name: "a"},
		backend.Options{Name: "b"},
		backend.Options{Name: "c", ErrorRate: 1},
	)
	for i, n := range []string{"a", "b", "c"} {
		s.backends[n] = addrs[i]
	}

	var g errgroup.Group
	s.markdown = startStub(t, &g, replyHangUp)
	s.postNoRetry = startStub(t, &g, replyHangUp)
	s.postRetry = startStub(t, &g, replyHangUp)
	s.s503 = startStub(t, &g, reply503)
	t.Cleanup(func() {
		for _, st := range []*stub{s.markdown, s.postNoRetry, s.postRetry, s.s503} {
			st.l.Close()
		}
		g.Wait()
	})

	conf := s.config(refusedAddr(t), refusedAddr(t), refusedAddr(t))
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the suite's config:\n%s", conf)
		}
	})
	return s
}

// config renders the suite's nginx.conf. dead1..3 refuse connections.
func (s *suite) config(dead1, dead2, dead3 string) string {
	r := strings.NewReplacer(
		"$ROOT", s.site.root,
		"$A", s.backends["a"],
		"$B", s.backends["b"],
		"$C", s.backends["c"],
		"$DEAD1", dead1,
		"$DEAD2", dead2,
		"$DEAD3", dead3,
		"$STUB_MARKDOWN", s.markdown.addr(),
		"$STUB_POSTNORETRY", s.postNoRetry.addr(),
		"$STUB_POSTRETRY", s.postRetry.addr(),
		"$STUB_503", s.s503.addr(),
		"$TYPES", typesBlock(),
		"$KA_REQUESTS", strconv.Itoa(keepaliveRequests),
	)
	return r.Replace(configTemplate)
}

// configTemplate is the suite's nginx.conf. Every directive is nginx 1.22
// syntax; each location serves one group of cases.
const configTemplate = `# c10k conformance suite config (generated)
worker_processes 1;
events {
    worker_connections 1024;
}
http {
$TYPES    default_type application/x-c10k-unknown;
    access_log off;
    sendfile on;
    keepalive_timeout 30s;
    client_max_body_size 16m;

    # proxying: 3:1 smooth weighted round robin
    upstream weighted {
        server $A weight=3;
        server $B weight=1;
    }
    # a dead server (connection refused) and a live one
    upstream deadlive {
        server $DEAD1;
        server $A;
    }
    # a server that hangs up after reading the request; counted
    upstream markdown {
        server $STUB_MARKDOWN max_fails=1 fail_timeout=60s;
        server $A;
    }
    upstream alldead {
        server $DEAD2;
        server $DEAD3;
    }
    # a server that answers 503; counted
    upstream u503 {
        server $STUB_503 max_fails=1 fail_timeout=60s;
        server $A;
    }
    # backend c answers 500 to everything
    upstream u500 {
        server $C;
        server $A;
    }
    upstream both {
        server $A;
        server $B;
    }
    upstream postnoretry {
        server $STUB_POSTNORETRY weight=10;
        server $A;
    }
    upstream postretry {
        server $STUB_POSTRETRY weight=10;
        server $A;
    }
    upstream pool {
        server $A;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:0 default_server;
        server_name default.test;
        root $ROOT;
        index index.html;

        location = /whoami {
            return 200 "default";
        }
        location = /ret/text {
            return 200 "hello from return";
        }
        location = /ret/redirect {
            return 301 /x;
        }
        location /errs/ {
            error_page 404 /custom404.html;
        }

        location /app/ {
            proxy_pass http://weighted;
        }
        location /echo/ {
            proxy_pass http://$A;
        }
        location /name/ {
            proxy_pass http://$A/remote/;
        }
        location /hdr/ {
            proxy_pass http://$A;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        location /pool/ {
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /deadlive/ {
            proxy_pass http://deadlive;
            proxy_next_upstream error;
        }
        location /markdown/ {
            proxy_pass http://markdown;
            proxy_next_upstream error;
        }
        location /alldead/ {
            proxy_pass http://alldead;
        }
        location /unbuffered/ {
            proxy_pass http://$A;
            proxy_buffering off;
        }
        location /slow/ {
            proxy_pass http://$A;
            proxy_read_timeout 1s;
        }
        location /u503/ {
            proxy_pass http://u503;
            proxy_next_upstream error timeout http_503;
        }
        location /u500/ {
            proxy_pass http://u500;
            proxy_next_upstream error timeout http_500;
        }
        location /both503/ {
            proxy_pass http://both;
            proxy_next_upstream error timeout http_503;
        }
        location /postnoretry/ {
            proxy_pass http://postnoretry;
            proxy_next_upstream error timeout;
        }
        location /postretry/ {
            proxy_pass http://postretry;
            proxy_next_upstream error timeout non_idempotent;
        }
    }

    server {
        listen 127.0.0.1:0;
        server_name exact.test exact.wild.test;
        location = /whoami {
            return 200 "exact";
        }
    }

    server {
        listen 127.0.0.1:0;
        server_name *.wild.test;
        location = /whoami {
            return 200 "wild";
        }
    }

    server {
        listen 127.0.0.1:0;
        server_name ka.test;
        keepalive_requests $KA_REQUESTS;
        root $ROOT;
    }

    server {
        listen 127.0.0.1:0;
        server_name small.test;
        client_max_body_size 1k;
        location / {
            proxy_pass http://$A;
        }
    }
}
`
