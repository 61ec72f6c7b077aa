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
//   - No DNS lookups: proxy_pass and upstream hosts are checked by syntax;
//     a bare name that is not an upstream must be an IP or "localhost", or
//     carry a port.
//   - Regular expressions use Go's regexp syntax (RE2), not PCRE: no
//     backreferences or lookaround.
//   - The events block is optional, a directive that nginx allows to repeat
//     with "first wins" (return, access_log) is an error when repeated, and
//     two balancing methods in one upstream are an error, not a warning.
//   - Errors point at the line of the directive's name.
//   - "listen" takes port 0 ("listen 127.0.0.1:0"), which nginx rejects:
//     the core binds an ephemeral port, so that tests can run a config
//     without choosing free ports. Upstream "server" and "proxy_pass"
//     addresses still reject port 0.
