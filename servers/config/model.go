package config

import (
	"net/netip"
	"regexp"
	"time"
)

// Pos is a place in a config file, for error messages: "FILE:LINE".
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return p.File + ":" + itoa(p.Line) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Config is a whole parsed and validated configuration. Every value is
// already resolved: defaults applied and inheritance done (http → server →
// location → nested location), so consumers read effective values directly.
type Config struct {
	File string // the main file, as given

	// Prefix is the directory of the main file. Relative root and alias
	// paths are already resolved against it; other relative paths
	// (AccessLog, ErrorLog, PID) are kept as written and resolve with Path.
	// With LoadFS it is a path inside the fs.FS.
	Prefix string

	WorkerProcesses   int // 0 means "auto" (one per CPU); default 1
	WorkerConnections int // events { worker_connections }; default 512

	ErrorLog      string // error_log path as written; default "logs/error.log"; "stderr" allowed
	ErrorLogLevel string // debug, info, notice, warn, error (default), crit, alert or emerg
	PID           string // pid path as written; default "logs/nginx.pid"

	HTTP *HTTP // nil when there is no http block

	// Warnings are findings that do not stop the load, as nginx's
	// [warn] lines at startup: "FILE:LINE: low address bits of
	// 10.1.2.3/8 are meaningless" (the rule is masked). engine.New logs
	// them at warn level.
	Warnings []*Error
}

// HTTP is the http block.
type HTTP struct {
	// LogFormats are the log_format lines by name, with nginx's
	// predefined "combined".
	LogFormats map[string]*LogFormat
	Servers    []*Server            // in file order
	Upstreams  map[string]*Upstream // by name
	// LimitReqZones and LimitConnZones are the limit_req_zone and
	// limit_conn_zone lines by name; nil when there are none.
	LimitReqZones  map[string]*LimitReqZone
	LimitConnZones map[string]*LimitConnZone
}

// Server is one server block.
type Server struct {
	Pos     Pos
	Listens []Listen     // default: *:80 (nginx default when running as root)
	Names   []ServerName // default: the empty name ""

	// Per-server connection settings (http/server level in nginx).
	// ClientBodyTimeout and SendTimeout are also location settings in
	// nginx; here they hold the server-level values, and Location has the
	// per-location effective ones.
	ClientHeaderBufferSize   int64         // default 1k
	LargeClientHeaderBuffers BufferSpec    // default 4 8k
	ClientHeaderTimeout      time.Duration // default 60s
	ClientBodyTimeout        time.Duration // default 60s
	SendTimeout              time.Duration // default 60s

	// SSL is the server's ssl_* settings, after inheritance from the
	// http block; used when it listens with "ssl".
	SSL SSL

	// Loc holds the server-level values of location settings; requests
	// that match no location are served with it.
	Loc *Location

	Locations []*Location // top-level locations, in file order
}

// BufferSpec is "number size", as large_client_header_buffers 4 8k.
type BufferSpec struct {
	Number int
	Size   int64
}

// Listen is one listen directive.
type Listen struct {
	Pos           Pos
	Addr          string // "host:port"; host "*" for all IPv4 addresses (also written "0.0.0.0" or omitted); IPv6 as "[::1]:80"; port 0 binds an ephemeral port (a c10k extension for tests)
	DefaultServer bool
	// SSL, Backlog and ReusePort are socket options and hold the effective
	// values for Addr: nginx sets them on one listen of an address and they
	// apply to every server listening there (ssl: any of them).
	SSL       bool
	Backlog   int // default 511
	ReusePort bool
}

// NameKind says how a server_name matches.
type NameKind int

const (
	NameExact  NameKind = iota // example.com
	NameSuffix                 // *.example.com or .example.com
	NamePrefix                 // www.example.*
	NameRegex                  // ~^www\d+\.example\.com$
)

// ServerName is one server_name argument.
type ServerName struct {
	Kind  NameKind
	Name  string         // lowercased; for NameSuffix the part after "*" (".example.com"), for NamePrefix before "*" ("www.example.")
	Regex *regexp.Regexp // for NameRegex; Name holds its source without "~"; case-insensitive when the source has an upper-case letter (as nginx)
	// Dot is true for ".example.com", which also matches "example.com".
	Dot bool
}

// MatchKind is a location modifier.
type MatchKind int

const (
	MatchPrefix      MatchKind = iota // location /path
	MatchExact                        // location = /path
	MatchPrefixFinal                  // location ^~ /path (no regex check when it is the longest prefix)
	MatchRegex                        // location ~ re
	MatchRegexFold                    // location ~* re
	MatchNamed                        // location @name (only for try_files / error_page)
)

// Location is a location block, or a server's own settings (Server.Loc).
// Fields hold effective values after inheritance.
type Location struct {
	Pos   Pos
	Match MatchKind
	Path  string // the prefix, exact path, regex source, or @name
	// Regex is the compiled expression of a ~ or ~* location: Load and
	// Parse always set it for MatchRegex and MatchRegexFold (Go syntax,
	// with "(?i)" prepended for ~*), and leave it nil for every other
	// kind. The router relies on it.
	Regex *regexp.Regexp
	// AutoRedirect is nginx's auto_redirect flag: set on a prefix, ^~ or
	// exact location whose path ends with "/" and that has proxy_pass.
	// A request for the path without the trailing slash, when no
	// location matches it exactly, is then redirected (301) to the path.
	// Not inherited.
	AutoRedirect bool

	Locations []*Location // nested locations, in file order

	// Static files. Relative Root and Alias paths are resolved against
	// Config.Prefix (nginx uses its own prefix; the config's directory
	// keeps a site directory self-contained). Paths holding variables
	// ("$document_root/x") are kept as written.
	Root  string // default "html" (resolved against the prefix)
	Alias string // "" when unset; set only in a location, inherited by nested ones; when set it takes precedence over Root
	// RootTemplate and AliasTemplate are Root and Alias parsed, when
	// they hold variables (regex captures such as "/data/$1" among them);
	// a path without variables leaves them empty.
	RootTemplate  Template
	AliasTemplate Template
	Index         []string // default ["index.html"]
	TryFiles      []string // last element is the fallback (uri, =code or @name); nil when unset
	// TryFilesTemplates holds TryFiles parsed, element by element.
	TryFilesTemplates []Template
	Sendfile          bool // default off (nginx default)

	// open_file_cache and its companions (ngx_http_core_module). A nil
	// OpenFileCache is "off", the default. Levels that inherit one
	// OpenFileCache share it: as in nginx, each open_file_cache line is
	// one cache, used by its level and every level below that does not
	// write its own.
	OpenFileCache        *OpenFileCache
	OpenFileCacheValid   time.Duration // open_file_cache_valid; default 60s
	OpenFileCacheMinUses int           // open_file_cache_min_uses; default 1
	OpenFileCacheErrors  bool          // open_file_cache_errors; default off

	// Types maps a lowercased extension (no dot) to a MIME type. A types
	// block replaces the inherited table. Default: the built-in copy of
	// nginx's mime.types, shared by every location: do not modify it.
	Types       map[string]string
	DefaultType string // default "text/plain"

	// Return is not inherited (nginx's rewrite phase): a server-level
	// return (Server.Loc.Return) runs before any location is matched.
	Return     *Return            // nil when unset
	ErrorPages map[int]*ErrorPage // status → page; nil when unset; the first of a level wins for a status

	KeepaliveTimeout time.Duration // default 75s; 0 disables keep-alive
	// KeepaliveSet is true when keepalive_timeout was written at this
	// level or at an enclosing one KeepaliveTimeout is inherited from;
	// false when KeepaliveTimeout is nginx's default.
	KeepaliveSet      bool
	KeepaliveHeader   time.Duration // keepalive_timeout's second argument, for "Keep-Alive: timeout=N"; 0 when absent
	KeepaliveRequests int           // default 1000 (nginx 1.22)
	ClientMaxBodySize int64         // default 1m; 0 means unlimited
	ClientBodyTimeout time.Duration // default 60s
	SendTimeout       time.Duration // default 60s
	AccessLog         string        // "" for off; the first access_log path otherwise, as written (see Config.Path). Default "logs/access.log"
	AccessLogFormat   string        // the first access_log's format name; "combined" by default
	// AccessLogs are the effective access_log lines: those of the
	// nearest level that has any (a level's lines replace the inherited
	// ones, and every line of a level logs); nil for "access_log off".
	// Default: logs/access.log in the combined format, unbuffered.
	AccessLogs []*AccessLog

	// Limits: the limit_req and limit_conn lines of the nearest level
	// that has any (nginx's array merge), and their statuses (default
	// 503).
	LimitReqs       []*LimitReq
	LimitConns      []*LimitConn
	LimitReqStatus  int
	LimitConnStatus int

	// Reverse proxy.
	ProxyPass *ProxyPass // nil when unset (not inherited)
	// ProxySetHeaders is the effective list, complete: the
	// proxy_set_header lines of the nearest level that has any (a level's
	// lines replace the inherited ones), then nginx's implicit
	// "Host $proxy_host" and "Connection close" unless a line names them
	// (case-insensitively). The implicit defaults are added here and only
	// here: consumers send the list as it is (an empty value drops the
	// field). EffectiveProxyHeaders builds it for a hand-made Location.
	ProxySetHeaders          []HeaderSet
	ProxyHTTPVersion         string        // "1.0" (default) or "1.1"
	ProxyConnectTimeout      time.Duration // default 60s
	ProxyReadTimeout         time.Duration // default 60s
	ProxySendTimeout         time.Duration // default 60s
	ProxyBuffering           bool          // default on
	ProxyNextUpstream        NextUpstream  // default error|timeout
	ProxyNextUpstreamTries   int           // default 0 (unlimited)
	ProxyNextUpstreamTimeout time.Duration // default 0 (unlimited)

	// CGI (c10k's cgi_pass, on every core). CGIPass is the program a
	// location runs, one child process per request (RFC 3875); "" when
	// unset. Not inherited, like proxy_pass.
	CGIPass string
	// CGITimeout bounds a CGI child's whole run (cgi_timeout): past it
	// the child gets SIGTERM, then SIGKILL, and the client 504. Default
	// 60s, like proxy_read_timeout.
	CGITimeout time.Duration

	// Access is the allow and deny lines (ngx_http_access_module) of
	// the nearest level that has any, in order: a level with one
	// replaces the inherited list, as nginx merges its rule arrays. The
	// first rule that matches the client address decides; none
	// matching, or no rules at all, allows the request.
	Access []AccessRule

	// AddHeaders is the add_header lines of the nearest level that has
	// any, in order (a level with one replaces the inherited list).
	AddHeaders []AddHeader

	// Gzip is the gzip settings (gzip, gzip_types, gzip_min_length,
	// gzip_comp_level, gzip_vary, gzip_proxied, gzip_http_version).
	Gzip Gzip
}

// AccessRule is one allow or deny line: "all", "unix:", an address or a
// CIDR.
type AccessRule struct {
	Pos  Pos
	Deny bool // deny; allow otherwise
	All  bool // "all": every client, whatever its address family
	// Unix is "unix:": clients on a unix-domain socket. c10k listens on
	// none, so such a rule matches only a connection without an IP
	// address; it still counts as a rule of its level for inheritance.
	Unix bool
	// Prefix is the address (a full-length prefix) or the CIDR, with
	// the bits below its length cleared ("10.1.2.3/8" is 10.0.0.0/8,
	// with a warning, as nginx). IPv4 and IPv6 rules apply to clients
	// of their family only; an IPv4-mapped IPv6 client is taken as IPv4
	// when the list has IPv4 rules (or "all"). Invalid for All and Unix.
	Prefix netip.Prefix
}

// AddHeader is one "add_header NAME VALUE [always]" line.
type AddHeader struct {
	Name  string   // the field name, a token, as written
	Value Template // an empty value omits the field
	// Always adds the field to responses of every status; without it
	// only 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308 get it.
	Always bool
}

// OpenFileCache is an "open_file_cache max=N [inactive=time]" line.
type OpenFileCache struct {
	Pos      Pos
	Max      int           // entries kept at most; the least recently used go first beyond it
	Inactive time.Duration // entries unused this long are dropped; default 60s
}

// Return is a return directive: "return code [text|URL]" or "return URL".
type Return struct {
	Code int      // 301, 302, 303, 307, 308 carry a URL; others a text body
	Text Template // the URL or body; may be empty
}

// ErrorPage is one error_page target.
type ErrorPage struct {
	URI      Template // a local URI, a named location "@x", or an absolute URL (redirect)
	Response int      // "=code" override: -1 when absent, 0 for "=" alone (use the target's status)
}

// HeaderSet is one proxy_set_header. An empty Value removes the header.
type HeaderSet struct {
	Name  string
	Value Template
}

// ProxyPass is the proxy_pass target.
type ProxyPass struct {
	Pos      Pos
	Scheme   string // "http"
	Host     string // the authority as written: "backend" (an upstream name) or "127.0.0.1:8080"
	Upstream string // name of the upstream block Host refers to; "" when Host is an address
	Addr     string // when Upstream is "": Host as "host:port", port 80 when not written
	// Addrs are Addr resolved at load, "ip:port" each ("[::1]:80" for
	// IPv6); a name with several addresses gives several, balanced
	// round robin as nginx's implicit upstream. Set when Upstream is "".
	Addrs  []string
	URI    string // the URI part, "" when proxy_pass has none (pass the request URI unchanged)
	HasURI bool   // true when a URI part was given, even "/"
}

// NextUpstream is the set of proxy_next_upstream conditions.
type NextUpstream uint16

const (
	NextError NextUpstream = 1 << iota
	NextTimeout
	NextInvalidHeader
	NextHTTP500
	NextHTTP502
	NextHTTP503
	NextHTTP504
	NextHTTP403
	NextHTTP404
	NextHTTP429
	NextNonIdempotent
	NextOff NextUpstream = 0
)

// Upstream is an upstream block.
type Upstream struct {
	Pos        Pos
	Name       string
	Method     Balance
	HashKey    Template         // for BalanceHash
	Consistent bool             // hash ... consistent
	Two        bool             // random two
	Servers    []UpstreamServer // at least one

	Keepalive         int           // idle connections cached per worker; 0 = off
	KeepaliveTimeout  time.Duration // default 60s
	KeepaliveRequests int           // default 1000
}

// Balance is an upstream balancing method.
type Balance int

const (
	BalanceRoundRobin Balance = iota
	BalanceLeastConn
	BalanceIPHash
	BalanceHash
	BalanceRandom
)

// UpstreamServer is one "server" line in an upstream block.
type UpstreamServer struct {
	Pos  Pos
	Addr string // host:port as written (port defaults to 80)
	// Addrs are Addr resolved at load, "ip:port" each; nginx makes each
	// address a peer of its own with the server's parameters.
	Addrs       []string
	Weight      int           // default 1
	MaxFails    int           // default 1; 0 disables accounting
	FailTimeout time.Duration // default 10s
	MaxConns    int           // default 0 (unlimited)
	Backup      bool
	Down        bool
}

// Template is a string with nginx variables ("$host:$remote_addr",
// "${scheme}x"), split at parse time. Variable names are checked
// against the known set when the config is loaded.
type Template struct {
	Raw   string
	Parts []TemplatePart
}

// TemplatePart is a literal (Var == "") or a variable reference.
type TemplatePart struct {
	Lit string
	Var string // variable name without "$", lowercased, e.g. "host", "http_user_agent", "arg_id"; "1".."9" for regex captures, or a named capture
}

// IsStatic reports whether t has no variables.
func (t Template) IsStatic() bool {
	for _, p := range t.Parts {
		if p.Var != "" {
			return false
		}
	}
	return true
}

// String returns "exact", "suffix", "prefix" or "regex".
func (k NameKind) String() string {
	switch k {
	case NameExact:
		return "exact"
	case NameSuffix:
		return "suffix"
	case NamePrefix:
		return "prefix"
	case NameRegex:
		return "regex"
	}
	return "NameKind(" + itoa(int(k)) + ")"
}

// String returns the location modifier: "" for a prefix location, "=",
// "^~", "~", "~*", or "@" for a named location.
func (m MatchKind) String() string {
	switch m {
	case MatchPrefix:
		return ""
	case MatchExact:
		return "="
	case MatchPrefixFinal:
		return "^~"
	case MatchRegex:
		return "~"
	case MatchRegexFold:
		return "~*"
	case MatchNamed:
		return "@"
	}
	return "MatchKind(" + itoa(int(m)) + ")"
}

// String returns the directive selecting the method, "round_robin" for
// the default.
func (b Balance) String() string {
	switch b {
	case BalanceRoundRobin:
		return "round_robin"
	case BalanceLeastConn:
		return "least_conn"
	case BalanceIPHash:
		return "ip_hash"
	case BalanceHash:
		return "hash"
	case BalanceRandom:
		return "random"
	}
	return "Balance(" + itoa(int(b)) + ")"
}

var nextUpstreamWords = [...]string{
	"error", "timeout", "invalid_header", "http_500", "http_502", "http_503",
	"http_504", "http_403", "http_404", "http_429", "non_idempotent",
}

// String returns the conditions as proxy_next_upstream takes them:
// "error timeout", or "off".
func (n NextUpstream) String() string {
	if n == NextOff {
		return "off"
	}
	s := ""
	for i, w := range nextUpstreamWords {
		if n&(1<<i) != 0 {
			if s != "" {
				s += " "
			}
			s += w
		}
	}
	return s
}

// DefaultAccessLogBuffer is nginx's access_log buffer size when flush=
// is given without buffer=.
const DefaultAccessLogBuffer = 64 << 10

// CombinedFormat is nginx's predefined "combined" log format.
const CombinedFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

// AccessLog is one access_log line.
type AccessLog struct {
	Pos    Pos
	Path   string        // as written; resolve with Config.Path
	Format *LogFormat    // never nil
	Buffer int64         // buffer=; 0 writes each line at once
	Flush  time.Duration // flush=; 0: only when the buffer fills, on reload and on shutdown
}

// LogFormat is one log_format (or the predefined "combined").
type LogFormat struct {
	Name     string
	Escape   string // "default", "json" or "none"
	Template Template
}
