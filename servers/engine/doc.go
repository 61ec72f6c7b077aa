// Package engine is the shared, sans-I/O web server: it routes a parsed
// request to a virtual server and location and plans the response (static
// files, return, error_page, try_files, reverse proxy, cgi_pass, allow
// and deny, add_header) for any core.
//
// allow/deny rules are checked where nginx's access phase runs (after
// return, before try_files and the content handler, again after every
// internal redirect); a denied request gets 403 through error_page and
// nginx's "access forbidden by rule" error line. add_header fields go
// into Plan.Header of the final response of every kind (static, return,
// error page, proxied, CGI), chosen by the status it ends with.
//
// limit_req and limit_conn are here too (limit.go), in nginx's preaccess
// phase (after return, before allow/deny), once per request: zones shared
// by every loop and thread (a mutex per zone, no system call under it),
// nginx's leaky bucket in milli-requests with its LRU eviction, and
// limit_conn slots released by Plan.End (or Plan.Reset). A request
// limit_req delays comes back as a plan with only Plan.Delay set: the
// core waits, then calls Serve again and the engine resumes after
// limit_req.
//
// proxy_cache is here too (cache.go, cachestore.go): zones in memory
// or on disk shared by every loop and thread and kept across a reload,
// nginx's freshness rules, proxy_cache_lock surfaced as Plan.Wait, and
// proxy_cache_use_stale turning a failed exchange into the stale entry.
//
// Access logs are written here too (accesslog.go): every core calls
// Plan.End once per request with the bytes it sent, and End formats the
// access_log lines of the location the request ended in into per-file
// writers shared by every loop and thread (see accesslog.go for the
// buffering). End is the request's one end-of-life hook.
//
// gzip is decided here too (gzip.go), once the final status and fields
// are known, with nginx's rules (status 200/403/404, no Content-Encoding,
// gzip_min_length against a known length, gzip_types, Accept-Encoding
// q-values, gzip_http_version, gzip_proxied on a Via request): the
// engine adds Content-Encoding, Vary (gzip_vary), weakens the ETag and
// drops Accept-Ranges, and compresses an in-memory body (return, error
// pages, CGI output) itself; for a file region or a proxied body it sets
// Plan.Gzip and every core compresses while sending, through
// coreio.Gzip.
//
// Differences from nginx 1.22 worth knowing:
//   - gzip: a Range request the static handler can serve gets its 206,
//     uncompressed (nginx's gzip filter runs before its range filter and
//     sends the whole file compressed with 200 instead). A body the
//     engine compresses itself keeps a Content-Length (the compressed
//     one; nginx sends it chunked). gzip_disable, gzip_buffers and
//     gzip_static are refused.
//   - A proxied request does not carry the fields the client's Connection
//     header names ("Connection: foo" drops "Foo"), nor Proxy-Connection:
//     they are hop-by-hop (RFC 9110 section 7.6.1). nginx forwards both.
//   - add_header values have CR, LF and NUL replaced by spaces, as
//     newer nginx does (1.22 sends them as they are). Fields the
//     serializer owns (Content-Length, Transfer-Encoding, Connection,
//     Date, Server) are never sent from add_header; nginx would send a
//     second one.
//   - $upstream_addr, $upstream_status and the other log-only
//     variables evaluate to "" in add_header, which omits the field;
//     $upstream_cache_status is set in both.
//   - proxy_cache (cache.go, cachestore.go): see cache.go for how the
//     cores drive it and where it differs from nginx (a HEAD miss is
//     not converted to GET, no 304 from a hit, a fill ends with its
//     client).
package engine
