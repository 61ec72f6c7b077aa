// Package config parses the nginx.conf subset c10k serves into a typed,
// validated model with nginx 1.22 defaults applied and inheritance resolved.
// Errors name FILE:LINE and the directive, and loading stops at the first.
package config

// Differences from nginx worth knowing:
//   - Relative root and alias paths resolve against the main file's
//     directory (Config.Prefix), not nginx's compile-time prefix.
//   - "include mime.types" uses a built-in copy of nginx's mime.types when
//     the file does not exist, and when no types block applies at all Types
//     holds that same table (nginx then knows only html, gif and jpg).
//   - Host names of upstream servers and proxy_pass are resolved at load,
//     as nginx does (Options.LookupHost; every address is a peer), except
//     "localhost", which is always 127.0.0.1 (nginx would also add ::1
//     when /etc/hosts lists it), so that benchmarks do not depend on it.
//   - Regular expressions use Go's regexp syntax (RE2), not PCRE: no
//     backreferences or lookaround.
//   - The events block is optional, a directive that nginx allows to repeat
//     with "first wins" (return) is an error when repeated, and
//     two balancing methods in one upstream are an error, not a warning.
//   - Errors point at the line of the directive's name.
//   - access_log lines of a level all log and replace the inherited ones,
//     as in nginx; "access_log off" together with other access_log lines
//     of the same level is an error. log_format must come before the
//     access_log that names it (so does nginx).
//   - gzip_disable, gzip_buffers and gzip_static are refused as not
//     supported yet; the other gzip directives (Gzip) are nginx's.
//   - limit_req_zone, limit_req, limit_conn_zone, limit_conn and their
//     _status directives are nginx's (limit.go: rates, burst and delay in
//     milli-requests, zones bound to their lines when the whole file is
//     read, so a zone may come after its use); "sync",
//     limit_req_log_level, limit_req_dry_run, limit_conn_log_level and
//     limit_conn_dry_run are refused as not supported yet. An unknown
//     zone is "unknown limit_req_zone "NAME"" at the using line (nginx:
//     "zero size shared memory zone").
//   - proxy_cache_path, proxy_cache, proxy_cache_key, proxy_cache_valid,
//     proxy_cache_methods, proxy_cache_lock(_timeout),
//     proxy_cache_use_stale, proxy_cache_bypass, proxy_no_cache and
//     proxy_cache_min_uses are nginx's (cache.go), each merged on its
//     own down the levels. "proxy_cache_path memory: keys_zone=..." is
//     a memory-only zone, a c10k extension that the config reports as
//     a warning; the cache manager and loader tuning parameters,
//     proxy_cache_revalidate, _background_update, _lock_age,
//     _convert_head, proxy_ignore_headers and proxy_store are refused
//     as not supported yet. An unknown zone is ""proxy_cache" zone
//     "NAME" is unknown" at the using line.
//   - "listen" takes port 0 ("listen 127.0.0.1:0"), which nginx rejects:
//     the core binds an ephemeral port, so that tests can run a config
//     without choosing free ports. Upstream "server" and "proxy_pass"
//     addresses still reject port 0.
