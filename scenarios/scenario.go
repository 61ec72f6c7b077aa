package scenarios

import (
	"net/netip"
	"time"
)

// A Scenario is one experiment of the bench, read from a JSON file in
// this directory (or any file given to `c10k bench --scenario-file`).
// It says what the server serves (Site), which load to send (Steps), what
// to do during the run (Events) and what to sample; the runner starts
// the server, the backends and the generator from it, the same way for
// every core, reference server and external URL.
type Scenario struct {
	Name        string `json:"name"`        // [a-z0-9-]+, unique; the file's base name
	Description string `json:"description"` // one or two sentences: the claim it tests
	Claim       int    `json:"claim"`       // the DESIGN.md claim (1-5) it puts a number on; 0: none
	Quick       bool   `json:"quick"`       // in `make bench`'s quick set

	Site   Site    `json:"site"`
	Steps  []Step  `json:"steps"`
	Events []Event `json:"events,omitempty"`

	// Warmup runs before every step at the step's load and is not
	// measured; Duration is every step's measured time unless the step
	// sets its own. Zero: DefaultWarmup, DefaultDuration.
	Warmup   Duration `json:"warmup,omitempty"`
	Duration Duration `json:"duration,omitempty"`

	// Sample lists the server metrics read from /proc during each step
	// (see the Metric constants); empty: all of them. Interval is the
	// sampling period; zero: DefaultInterval.
	Sample   []string `json:"sample,omitempty"`
	Interval Duration `json:"interval,omitempty"`

	// Cores limits the scenario to some cores (names as `c10k serve
	// --core`, or reference server names); empty: every core.
	Cores []string `json:"cores,omitempty"`
}

// Defaults of a Scenario's zero fields.
const (
	DefaultWarmup   = time.Second
	DefaultDuration = 4 * time.Second
	DefaultInterval = 250 * time.Millisecond
	DefaultTimeout  = 5 * time.Second
)

// Metrics sampled from /proc for the server's whole process tree.
const (
	MetricRSS     = "rss"     // resident set size, bytes (VmRSS summed)
	MetricCPU     = "cpu"     // user+system CPU seconds (utime+stime)
	MetricThreads = "threads" // kernel threads (Threads:)
	MetricFDs     = "fds"     // open file descriptors (/proc/PID/fd)
	MetricCtxSw   = "ctxsw"   // voluntary + nonvoluntary context switches
)

// Site is what the server under test serves. Every core and every
// reference server gets a config generated from it (nginx.conf for the
// c10k cores and nginx, httpd.conf for Apache, lighttpd.conf), so the
// same site is measured everywhere.
type Site struct {
	// Files are static files created under the document root.
	Files []File `json:"files,omitempty"`
	// Proxy, when set, sends requests under Proxy.Location to an
	// upstream of c10k backends.
	Proxy *Proxy `json:"proxy,omitempty"`
	// CGI, when set, runs a CGI program for requests under
	// CGI.Location (cgi_pass; ScriptAlias for Apache; mod_cgi for
	// lighttpd).
	CGI *CGI `json:"cgi,omitempty"`
	// KeepaliveTimeout and KeepaliveRequests are the server's keep-alive
	// limits; zero: 75s and 1000, nginx's defaults, on every server.
	KeepaliveTimeout  Duration `json:"keepalive_timeout,omitempty"`
	KeepaliveRequests int      `json:"keepalive_requests,omitempty"`
	// WorkerConnections is nginx's worker_connections (and the
	// equivalent elsewhere); zero: 19000, room for a C10k run.
	WorkerConnections int `json:"worker_connections,omitempty"`
	// TLS, when set, makes the server listen with TLS as well, on a
	// second port (Env.TLSListen), serving the same site; steps with
	// TLS set go there.
	TLS *SiteTLS `json:"tls,omitempty"`
}

// SiteTLS is the TLS side of a site: the runner generates a CA and a
// certificate it signs for 127.0.0.1 (WriteTLS) into the run directory,
// configures the server with the certificate (nginx.conf's `listen ...
// ssl` and ssl_certificate, Apache's mod_ssl, lighttpd's mod_openssl)
// and gives the CA to the generator, which verifies the server as a
// client would.
type SiteTLS struct {
	// Key is the certificate's key type: KeyECDSAP256 ("", the default)
	// or KeyRSA2048.
	Key string `json:"key,omitempty"`
	// Curves are the key exchanges the generator offers, in order
	// ("X25519", "X25519MLKEM768", "P-256", ...); empty: Go's default,
	// X25519MLKEM768 first as browsers do. OpenSSL 3.0 servers (Debian
	// 12's nginx, Apache, lighttpd) lack the hybrid and pick X25519,
	// the c10k cores take the hybrid: ["X25519"] makes them alike.
	Curves []string `json:"curves,omitempty"`
}

// A File is a static file of Size bytes at Path under the document root.
type File struct {
	Path string `json:"path"` // relative, no ".."
	Size int64  `json:"size"`
}

// Proxy is a reverse-proxied location and its upstream.
type Proxy struct {
	Location  string    `json:"location"`            // e.g. "/app/"
	Balance   string    `json:"balance,omitempty"`   // "" (round robin), least_conn, ip_hash, random
	Buffering *bool     `json:"buffering,omitempty"` // proxy_buffering; nil: on
	Keepalive int       `json:"keepalive,omitempty"` // upstream keepalive connections per worker; 0: 16
	Backends  []Backend `json:"backends"`
}

// A Backend is one `c10k backend` process the runner starts on a free
// loopback port. Color marks the blue-green pair: the upstream starts on
// the "blue" backends; "green" ones start only when a deploy event
// brings them up. "" is neither: always in the upstream.
type Backend struct {
	Name    string   `json:"name"`              // X-Backend; unique
	Weight  int      `json:"weight,omitempty"`  // upstream weight; 0: 1
	Latency Duration `json:"latency,omitempty"` // c10k backend --latency
	CPU     Duration `json:"cpu,omitempty"`     // --cpu
	Size    int64    `json:"size,omitempty"`    // --size; 0: 1024
	Model   string   `json:"model,omitempty"`   // --model sync|async; "": async
	Workers int      `json:"workers,omitempty"` // --workers for sync; 0: 1
	Color   string   `json:"color,omitempty"`   // "", "blue" or "green"
}

// CGI is a location served by a CGI program.
type CGI struct {
	Location string `json:"location"` // e.g. "/cgi-bin/hello"
	// Program names a built-in program: "hello.sh" (a shell script,
	// examples/cgi/hello.sh) or "hello.c" (compiled with cc when one is
	// installed; else the step is skipped with a note).
	Program string `json:"program"`
}

// A Step is one measured point of a scenario. Exactly one of Connections
// (the closed model: that many connections back to back) and Rate (the
// open model: requests per second on a schedule, latency from the
// intended start) is set, unless the step only holds Idle connections
// and probes.
type Step struct {
	Label string `json:"label,omitempty"` // for tables; "": derived from the load
	Path  string `json:"path"`            // request path, e.g. "/1k.txt"

	// Target is where requests go: "" the server under test;
	// "backend:NAME" a backend directly, bypassing the server (the
	// slow-clients baseline).
	Target string `json:"target,omitempty"`

	Connections int     `json:"connections,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	// RateConnections caps the open model's connections; 0: the
	// generator's default.
	RateConnections int `json:"rate_connections,omitempty"`

	KeepAlive *bool `json:"keepalive,omitempty"` // nil: on

	// TLS sends the step's requests over https to the server's TLS
	// listener (the site must have TLS). Every new connection does a
	// full handshake unless TLSResume lets it resume the session of an
	// earlier one, as a browser's session cache does.
	TLS       bool `json:"tls,omitempty"`
	TLSResume bool `json:"tls_resume,omitempty"`

	Idle      int     `json:"idle,omitempty"`       // idle keep-alive connections held during the step
	OpenRate  float64 `json:"open_rate,omitempty"`  // idle connections opened per second; 0: 2000
	ProbeRate float64 `json:"probe_rate,omitempty"` // fresh-connection probes per second; 0: none

	// SlowReaders are clients that fetch SlowPath and read the answer
	// at SlowRate bytes per second, held during the step beside the
	// measured load.
	SlowReaders int    `json:"slow_readers,omitempty"`
	SlowPath    string `json:"slow_path,omitempty"`
	SlowRate    int64  `json:"slow_rate,omitempty"`

	Duration Duration `json:"duration,omitempty"` // 0: the scenario's
	// Timeout bounds every request of the step (load, probes, slow
	// readers); 0: DefaultTimeout. A stalled server costs at most this
	// past the step's end.
	Timeout Duration `json:"timeout,omitempty"`
}

// An Event is something the runner does during a step, as an operator
// or a failure would.
type Event struct {
	Step   int      `json:"step"`   // index into Steps
	At     Duration `json:"at"`     // after the step's measured part began
	Action string   `json:"action"` // see the Action constants
	// Backend names the backend of ActionKill.
	Backend string `json:"backend,omitempty"`
}

// Actions of an Event.
const (
	// ActionKill sends SIGKILL to Backend: a crash, not a drain.
	ActionKill = "kill-backend"
	// ActionDeploy is a blue-green deploy as a script would do it:
	// start the green backends, wait until /health answers on each,
	// switch the upstream to them in the config, reload the server
	// (SIGHUP for c10k and nginx, SIGUSR1 for Apache and lighttpd),
	// then stop the blue backends.
	ActionDeploy = "deploy"
)

// Duration is a time.Duration that reads and writes as a Go duration
// string ("250ms", "5s") in JSON.
type Duration time.Duration

// Env is where one run of a scenario lives on this machine: the
// addresses and paths the runner chose. Config generators turn a Site
// and an Env into a server's configuration.
type Env struct {
	Listen   netip.AddrPort            // the server under test
	Root     string                    // document root, absolute
	Dir      string                    // private directory: pid file, logs, temp files
	Backends map[string]netip.AddrPort // by Backend.Name, of those running
	// Color is the blue-green color the upstream points at: "blue"
	// before a deploy, "green" after; backends without a color are
	// always in the upstream.
	Color string
	// CGIProgram is the absolute path of the Site's CGI program.
	CGIProgram string
	// TLSListen is the server's TLS listener, and TLSCert and TLSKey
	// the absolute paths of its certificate and key (PEM), for a site
	// with TLS.
	TLSListen       netip.AddrPort
	TLSCert, TLSKey string
}
