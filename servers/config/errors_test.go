package config

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// srv wraps server-block lines in http and server blocks: line 3 of the
// file is the first line given.
func srv(lines ...string) string {
	return "http {\n  server {\n" + strings.Join(lines, "\n") + "\n  }\n}\n"
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		files map[string]string // other files of the fs
		want  string
	}{
		// Syntax.
		{"unexpected close", "}\n", nil, `site.conf:1: unexpected "}"`},
		{"unbalanced open", "http {\n server {\n}\n", nil, `site.conf:4: unexpected end of file, expecting "}"`},
		{"missing semicolon at eof", "worker_processes 1", nil, `site.conf:1: unexpected end of file, expecting ";" or "}"`},
		{"missing semicolon", "worker_processes 1\nevents {}\n", nil, `site.conf:1: directive "worker_processes" is not terminated by ";"`},
		{"missing semicolon args", srv("root html", "index x;"), nil, `site.conf:3: invalid number of arguments in "root" directive`},
		{"lone semicolon", ";\n", nil, `site.conf:1: unexpected ";"`},
		{"lone brace", "\n{\n", nil, `site.conf:2: unexpected "{"`},
		{"unterminated string", "pid \"x;\n\n", nil, `site.conf:3: unexpected end of file, expecting ";" or "}"`},
		{"junk after string", "pid \"x\"y;\n", nil, `site.conf:1: unexpected "y"`},
		{"close after args", srv("root html", "}"), nil, `site.conf:4: unexpected "}"`},
		{"too deep", strings.Repeat("a {\n", 101) + strings.Repeat("}\n", 101), nil, `site.conf:101: blocks nested too deeply in "a" directive`},

		// Directive names and contexts.
		{"unknown", srv("foo bar;"), nil, `site.conf:3: unknown directive "foo"`},
		{"not yet gzip_disable", srv("gzip_disable msie6;"), nil, `site.conf:3: directive "gzip_disable" is not supported yet`},
		{"not yet gzip_static", "http {\ngzip_static on;\n}", nil, `site.conf:2: directive "gzip_static" is not supported yet`},
		{"not yet limit_req_dry_run", srv("location / {", "limit_req_dry_run on;", "}"), nil, `site.conf:4: directive "limit_req_dry_run" is not supported yet`},
		{"not yet proxy_cache_path", "http {\nproxy_cache_path /tmp k=v;\n}", nil, `site.conf:2: directive "proxy_cache_path" is not supported yet`},
		{"listen ssl without certificate", srv("listen 443 ssl;"), nil, `site.conf:3: no "ssl_certificate" is defined for the "listen ... ssl" directive in site.conf:2`},
		{"ssl_certificate without key", srv("listen 443 ssl;", "ssl_certificate c.pem;"), nil, `site.conf:4: no "ssl_certificate_key" is defined for certificate "c.pem"`},
		{"log_format outside http", "log_format main x;", nil, `site.conf:1: "log_format" directive is not allowed here`},
		{"log_format duplicate", "http {\nlog_format main x;\nlog_format main y;\n}", nil, `site.conf:3: duplicate "log_format" name "main"`},
		{"log_format escape", "http {\nlog_format main escape=xml x;\n}", nil, `site.conf:2: unknown log format escaping "xml"`},
		{"log_format no string", "http {\nlog_format main escape=json;\n}", nil, `site.conf:2: invalid number of arguments in "log_format" directive`},
		{"log_format variable", "http {\nlog_format main $nope;\n}", nil, `site.conf:2: unknown "nope" variable in "log_format" directive`},
		{"access_log after format", "http {\naccess_log x.log main;\nlog_format main x;\n}", nil, `site.conf:2: unknown log format "main" in "access_log" directive`},
		{"access_log buffer", "http {\naccess_log x.log combined buffer=0;\n}", nil, `site.conf:2: invalid buffer size "buffer=0" in "access_log" directive`},
		{"access_log flush", "http {\naccess_log x.log flush=x;\n}", nil, `site.conf:2: invalid flush time "flush=x" in "access_log" directive`},
		{"access_log param", "http {\naccess_log x.log combined gzip;\n}", nil, `site.conf:2: invalid parameter "gzip" in "access_log" directive`},
		{"access_log off mixed", "http {\naccess_log x.log;\naccess_log off;\n}", nil, `site.conf:3: "access_log off" cannot be combined with other "access_log" directives`},
		{"cgi_pass variables", srv("location / {", "cgi_pass /bin/$host;", "}"), nil, `site.conf:4: variables in "cgi_pass" directive is not supported yet`},
		{"cgi_pass after proxy_pass", srv("location / {", "proxy_pass http://127.0.0.1:1;", "cgi_pass /bin/x;", "}"), nil, `site.conf:5: "cgi_pass" directive is duplicate, "proxy_pass" directive was specified earlier`},
		{"proxy_pass after cgi_pass", srv("location / {", "cgi_pass /bin/x;", "proxy_pass http://127.0.0.1:1;", "}"), nil, `site.conf:5: "proxy_pass" directive is duplicate, "cgi_pass" directive was specified earlier`},
		{"cgi_pass in server", srv("cgi_pass /bin/x;"), nil, `site.conf:3: "cgi_pass" directive is not allowed here`},
		{"cgi_timeout zero", srv("cgi_timeout 0;"), nil, `site.conf:3: invalid value "0" in "cgi_timeout" directive`},
		{"unknown variable in root", srv("location / {", "root /x/$nosuch;", "}"), nil, `site.conf:4: unknown "nosuch" variable in "root" directive`},
		{"unknown variable in alias", srv("location ~ ^/(?P<name>.*)$ {", "alias /x/$name$other;", "}"), nil, `site.conf:4: unknown "other" variable in "alias" directive`},
		{"root in main", "root /x;\n", nil, `site.conf:1: "root" directive is not allowed here`},
		{"listen in http", "http {\n listen 80;\n}", nil, `site.conf:2: "listen" directive is not allowed here`},
		{"proxy_pass in server", srv("proxy_pass http://127.0.0.1;"), nil, `site.conf:3: "proxy_pass" directive is not allowed here`},
		{"alias in server", srv("alias /x;"), nil, `site.conf:3: "alias" directive is not allowed here`},
		{"return in http", "http {\nreturn 200;\n}", nil, `site.conf:2: "return" directive is not allowed here`},
		{"client_header_timeout in location", srv("location / {", "client_header_timeout 5s;", "}"), nil, `site.conf:4: "client_header_timeout" directive is not allowed here`},
		{"keepalive in server", srv("keepalive 5;"), nil, `site.conf:3: "keepalive" directive is not allowed here`},
		{"worker_connections in main", "worker_connections 5;", nil, `site.conf:1: "worker_connections" directive is not allowed here`},
		{"http without block", "http;", nil, `site.conf:1: directive "http" has no opening "{"`},
		{"root with block", srv("root x {", "}"), nil, `site.conf:3: directive "root" is not terminated by ";"`},
		{"events unknown", "events {\nuse epoll;\n}", nil, `site.conf:2: unknown directive "use"`},

		// Arguments and values.
		{"open_file_cache without max", srv("open_file_cache inactive=1s;"), nil, `site.conf:3: "open_file_cache" must have the "max" parameter`},
		{"open_file_cache max=0", srv("open_file_cache max=0;"), nil, `site.conf:3: invalid value "max=0" in "open_file_cache" directive`},
		{"open_file_cache bad inactive", srv("open_file_cache max=10 inactive=x;"), nil, `site.conf:3: invalid value "inactive=x" in "open_file_cache" directive`},
		{"open_file_cache unknown parameter", srv("open_file_cache max=10 foo;"), nil, `site.conf:3: invalid parameter "foo" in "open_file_cache" directive`},
		{"open_file_cache off with more", srv("open_file_cache off max=10;"), nil, `site.conf:3: invalid parameter "max=10" in "open_file_cache" directive`},
		{"open_file_cache_valid bad", srv("open_file_cache_valid forever;"), nil, `site.conf:3: invalid value "forever" in "open_file_cache_valid" directive`},
		{"open_file_cache_min_uses bad", srv("open_file_cache_min_uses -1;"), nil, `site.conf:3: invalid value "-1" in "open_file_cache_min_uses" directive`},
		{"open_file_cache_errors bad", srv("open_file_cache_errors yes;"), nil, `site.conf:3: invalid value "yes" in "open_file_cache_errors" directive, it must be "on" or "off"`},
		{"open_file_cache in main", "open_file_cache max=1;", nil, `site.conf:1: "open_file_cache" directive is not allowed here`},
		{"listen args", srv("listen;"), nil, `site.conf:3: invalid number of arguments in "listen" directive`},
		{"try_files one arg", srv("try_files $uri;"), nil, `site.conf:3: invalid number of arguments in "try_files" directive`},
		{"duplicate root", srv("root a;", "root b;"), nil, `site.conf:4: "root" directive is duplicate`},
		{"duplicate http", "http {}\nhttp {}\n", nil, `site.conf:2: "http" directive is duplicate`},
		{"root then alias", srv("location /a/ {", "root a;", "alias b;", "}"), nil, `site.conf:5: "alias" directive is duplicate, "root" directive was specified earlier`},
		{"alias then root", srv("location /a/ {", "alias a;", "root b;", "}"), nil, `site.conf:5: "root" directive is duplicate, "alias" directive was specified earlier`},
		{"bad time", srv("keepalive_timeout abc;"), nil, `site.conf:3: invalid value "abc" in "keepalive_timeout" directive`},
		{"bad header time", srv("keepalive_timeout 5 x;"), nil, `site.conf:3: invalid value "x" in "keepalive_timeout" directive`},
		{"bad size", srv("client_max_body_size 1t;"), nil, `site.conf:3: invalid value "1t" in "client_max_body_size" directive`},
		{"bad flag", srv("sendfile yes;"), nil, `site.conf:3: invalid value "yes" in "sendfile" directive, it must be "on" or "off"`},
		{"bad number", srv("keepalive_requests -1;"), nil, `site.conf:3: invalid value "-1" in "keepalive_requests" directive`},
		{"bad workers", "worker_processes 0;", nil, `site.conf:1: invalid value "0" in "worker_processes" directive`},
		{"bad worker_connections", "events {\nworker_connections many;\n}", nil, `site.conf:2: invalid value "many" in "worker_connections" directive`},
		{"bad log level", "error_log x.log loud;", nil, `site.conf:1: invalid log level "loud" in "error_log" directive`},
		{"bad proxy_http_version", srv("location / {", "proxy_http_version 2.0;", "}"), nil, `site.conf:4: invalid value "2.0" in "proxy_http_version" directive`},
		{"bad next upstream", srv("proxy_next_upstream error http_418;"), nil, `site.conf:3: invalid value "http_418" in "proxy_next_upstream" directive`},
		{"bad buffers", srv("large_client_header_buffers 0 8k;"), nil, `site.conf:3: invalid value "0" in "large_client_header_buffers" directive`},
		{"access_log format", srv("access_log x.log main;"), nil, `site.conf:3: unknown log format "main" in "access_log" directive`},
		{"access_log off extra", srv("access_log off x;"), nil, `site.conf:3: invalid parameter "x" in "access_log" directive`},
		{"empty index", srv(`index "";`), nil, `site.conf:3: index "" in "index" directive is invalid`},
		{"return code", srv("return abc;"), nil, `site.conf:3: invalid return code "abc" in "return" directive`},
		{"return code big", srv("return 1000 x;"), nil, `site.conf:3: invalid return code "1000" in "return" directive`},
		{"error_page range", srv("error_page 200 /x;"), nil, `site.conf:3: value "200" must be between 300 and 599 in "error_page" directive`},
		{"error_page code", srv("error_page abc /x;"), nil, `site.conf:3: invalid value "abc" in "error_page" directive`},
		{"error_page bad response", srv("error_page 404 =x /x;"), nil, `site.conf:3: invalid value "=x" in "error_page" directive`},
		{"error_page only response", srv("error_page =200 /x;"), nil, `site.conf:3: invalid number of arguments in "error_page" directive`},
		{"try_files bad code", srv("try_files $uri =abc;"), nil, `site.conf:3: invalid code "=abc" in "try_files" directive`},

		// Templates.
		{"unknown variable", srv("return 200 $foo;"), nil, `site.conf:3: unknown "foo" variable in "return" directive`},
		{"unknown variable braces", srv("location / {", "proxy_set_header X ${bar}x;", "}"), nil, `site.conf:4: unknown "bar" variable in "proxy_set_header" directive`},
		{"bad variable name", srv("return 200 \"a $ b\";"), nil, `site.conf:3: invalid variable name in "return" directive`},
		{"unclosed variable", srv("return 200 ${host;"), nil, `site.conf:3: the closing bracket in "host" variable is missing in "return" directive`},
		{"unknown hash key", "http {\nupstream u {\nhash $nope;\nserver 127.0.0.1;\n}\n}", nil, `site.conf:3: unknown "nope" variable in "hash" directive`},
		{"unknown error_page var", srv("error_page 404 /$x;"), nil, `site.conf:3: unknown "x" variable in "error_page" directive`},

		// allow, deny, add_header.
		{"allow no args", srv("allow;"), nil, `site.conf:3: invalid number of arguments in "allow" directive`},
		{"deny two args", srv("location / {", "deny 10.0.0.1 10.0.0.2;", "}"), nil, `site.conf:4: invalid number of arguments in "deny" directive`},
		{"allow bad address", srv("allow 10.0.0.256;"), nil, `site.conf:3: invalid parameter "10.0.0.256" in "allow" directive`},
		{"allow host name", srv("allow localhost;"), nil, `site.conf:3: invalid parameter "localhost" in "allow" directive`},
		{"deny bad v4 length", "http {\ndeny 10.0.0.0/33;\n}", nil, `site.conf:2: invalid parameter "10.0.0.0/33" in "deny" directive`},
		{"deny bad v6 length", srv("deny 2001:db8::/129;"), nil, `site.conf:3: invalid parameter "2001:db8::/129" in "deny" directive`},
		{"deny bad length", srv("deny 10.0.0.0/x;"), nil, `site.conf:3: invalid parameter "10.0.0.0/x" in "deny" directive`},
		{"deny empty length", srv("deny 10.0.0.0/;"), nil, `site.conf:3: invalid parameter "10.0.0.0/" in "deny" directive`},
		{"deny zone", srv("deny fe80::1%eth0;"), nil, `site.conf:3: invalid parameter "fe80::1%eth0" in "deny" directive`},
		{"deny upper-case all", srv("deny ALL;"), nil, `site.conf:3: invalid parameter "ALL" in "deny" directive`},
		{"allow in main", "allow all;", nil, `site.conf:1: "allow" directive is not allowed here`},
		{"deny in upstream", "http {\nupstream a {\nserver 127.0.0.1;\ndeny all;\n}\n}", nil, `site.conf:4: "deny" directive is not allowed here`},
		{"allow with block", srv("allow all {", "}"), nil, `site.conf:3: directive "allow" is not terminated by ";"`},
		{"add_header one arg", srv("add_header X-A;"), nil, `site.conf:3: invalid number of arguments in "add_header" directive`},
		{"add_header four args", srv("location / {", "add_header X-A a always more;", "}"), nil, `site.conf:4: invalid number of arguments in "add_header" directive`},
		{"add_header not always", srv("add_header X-A a sometimes;"), nil, `site.conf:3: invalid parameter "sometimes" in "add_header" directive`},
		{"add_header bad name", srv(`add_header "X A" a;`), nil, `site.conf:3: invalid header name "X A" in "add_header" directive`},
		{"add_header colon in name", srv("add_header X-A: a;"), nil, `site.conf:3: invalid header name "X-A:" in "add_header" directive`},
		{"add_header empty name", srv(`add_header "" a;`), nil, `site.conf:3: invalid header name "" in "add_header" directive`},
		{"add_header unknown variable", "http {\nadd_header X-A $nosuch;\n}", nil, `site.conf:2: unknown "nosuch" variable in "add_header" directive`},
		{"add_header upstream_cache_status", srv("add_header X-Cache $upstream_cache_status;"), nil, `site.conf:3: unknown "upstream_cache_status" variable in "add_header" directive`},
		{"add_header bad variable", srv(`add_header X-A "$";`), nil, `site.conf:3: invalid variable name in "add_header" directive`},
		{"add_header in main", "add_header X-A a;", nil, `site.conf:1: "add_header" directive is not allowed here`},

		// listen.
		{"listen unix", srv("listen unix:/tmp/s;"), nil, `site.conf:3: unix domain sockets in "listen" directive is not supported yet`},
		{"listen bad port", srv("listen 70000;"), nil, `site.conf:3: invalid address "70000" in "listen" directive`},
		{"listen negative port", srv("listen 127.0.0.1:-1;"), nil, `site.conf:3: invalid address "127.0.0.1:-1" in "listen" directive`},
		{"listen bad addr", srv("listen 1.2.3.4:x;"), nil, `site.conf:3: invalid address "1.2.3.4:x" in "listen" directive`},
		{"listen bare v6", srv("listen ::1:80;"), nil, `site.conf:3: invalid address "::1:80" in "listen" directive`},
		{"listen bad param", srv("listen 80 quic;"), nil, `site.conf:3: invalid parameter "quic" in "listen" directive`},
		{"listen bad backlog", srv("listen 80 backlog=x;"), nil, `site.conf:3: invalid backlog "backlog=x" in "listen" directive`},
		{"duplicate listen", srv("listen 80;", "listen *:80;"), nil, `site.conf:4: a duplicate listen *:80 in "listen" directive`},
		{"duplicate listen wildcard", srv("listen 0.0.0.0:80;", "listen 80;"), nil, `site.conf:4: a duplicate listen *:80 in "listen" directive`},
		{"duplicate default server", "http {\nserver { listen 80 default_server; }\nserver { listen 80 default_server; }\n}", nil,
			`site.conf:3: a duplicate default server for *:80 in "listen" directive`},
		{"duplicate listen options", "http {\nserver { listen 80 backlog=10; }\nserver { listen 80 reuseport; }\n}", nil,
			`site.conf:3: duplicate listen options for *:80 in "listen" directive`},

		// server_name.
		{"bad wildcard", srv("server_name www.*.com;"), nil, `site.conf:3: invalid server name or wildcard "www.*.com" in "server_name" directive`},
		{"bare star", srv("server_name *;"), nil, `site.conf:3: invalid server name or wildcard "*" in "server_name" directive`},
		{"bad server_name regex", srv("server_name ~^(x;"), nil, "site.conf:3: invalid regular expression \"^(x\" in \"server_name\" directive: error parsing regexp: missing closing ): `^(x`"},

		// location.
		{"bad location regex", srv("location ~ (?<=a)b {", "}"), nil, "site.conf:3: invalid regular expression \"(?<=a)b\" in \"location\" directive: error parsing regexp: invalid named capture: `(?<=a)b`"},
		{"bad modifier", srv("location ~~ /x {", "}"), nil, `site.conf:3: invalid location modifier "~~" in "location" directive`},
		{"duplicate location", srv("location /a {", "}", "location ^~ /a {", "}"), nil, `site.conf:5: duplicate location "/a"`},
		{"duplicate exact location", srv("location = /a {", "}", "location =/a {", "}"), nil, `site.conf:5: duplicate location "/a"`},
		{"duplicate named location", srv("location @a {", "}", "location @a {", "}"), nil, `site.conf:5: duplicate location "@a"`},
		{"nested named", srv("location /a {", "location @b {", "}", "}"), nil, `site.conf:4: named location "@b" can be on the server level only`},
		{"inside named", srv("location @a {", "location /b {", "}", "}"), nil, `site.conf:4: location "/b" could not be inside the named location "@a"`},
		{"inside exact", srv("location = /a {", "location /a/b {", "}", "}"), nil, `site.conf:4: location "/a/b" cannot be inside the exact location "/a"`},
		{"outside", srv("location /a/ {", "location /b/ {", "}", "}"), nil, `site.conf:4: location "/b/" is outside location "/a/"`},
		{"alias in named", srv("location @a {", "alias /x;", "}"), nil, `site.conf:4: "alias" directive cannot be used inside the named location`},

		// proxy_pass.
		{"proxy_pass host not found", srv("location / {", "proxy_pass http://backendz;", "}"), nil, `site.conf:4: host not found in upstream "backendz" in "proxy_pass" directive`},
		{"proxy_pass https", srv("location / {", "proxy_pass https://127.0.0.1;", "}"), nil, `site.conf:4: https in "proxy_pass" directive is not supported yet`},
		{"proxy_pass prefix", srv("location / {", "proxy_pass ftp://x;", "}"), nil, `site.conf:4: invalid URL prefix in "proxy_pass" directive`},
		{"proxy_pass no host", srv("location / {", "proxy_pass http:///x;", "}"), nil, `site.conf:4: no host in "proxy_pass" directive`},
		{"proxy_pass variables", srv("location / {", "proxy_pass http://$host;", "}"), nil, `site.conf:4: variables in "proxy_pass" directive is not supported yet`},
		{"proxy_pass bad port", srv("location / {", "proxy_pass http://a:0;", "}"), nil, `site.conf:4: invalid host in upstream "a:0" in "proxy_pass" directive`},
		{"proxy_pass uri in regex", srv("location ~ x {", "proxy_pass http://127.0.0.1/x;", "}"), nil,
			`site.conf:4: "proxy_pass" cannot have URI part in location given by regular expression, or inside named location`},

		// upstream.
		{"duplicate upstream", "http {\nupstream a { server 127.0.0.1; }\nupstream A { server 127.0.0.1; }\n}", nil, `site.conf:3: duplicate upstream "A"`},
		{"empty upstream", "http {\nupstream a {\n}\n}", nil, `site.conf:2: no servers are inside upstream "a"`},
		{"two methods", "http {\nupstream a {\nleast_conn;\nip_hash;\nserver 127.0.0.1;\n}\n}", nil, `site.conf:4: load balancing method redefined by "ip_hash" directive`},
		{"backup with hash", "http {\nupstream a {\nhash $uri;\nserver 127.0.0.1 backup;\n}\n}", nil, `site.conf:4: balancing method does not support parameter "backup" in "server" directive`},
		{"backup with ip_hash", "http {\nupstream a {\nserver 127.0.0.1 backup;\nserver 127.0.0.2;\nip_hash;\n}\n}", nil, `site.conf:3: balancing method does not support parameter "backup" in "server" directive`},
		{"upstream server param", "http {\nupstream a {\nserver 127.0.0.1 weight=0;\n}\n}", nil, `site.conf:3: invalid parameter "weight=0" in "server" directive`},
		{"upstream server unknown param", "http {\nupstream a {\nserver 127.0.0.1 slow_start=1s;\n}\n}", nil, `site.conf:3: invalid parameter "slow_start=1s" in "server" directive`},
		{"upstream server addr", "http {\nupstream a {\nserver a:b;\n}\n}", nil, `site.conf:3: invalid address "a:b" in "server" directive`},
		{"upstream server port 0", "http {\nupstream a {\nserver 127.0.0.1:0;\n}\n}", nil, `site.conf:3: invalid address "127.0.0.1:0" in "server" directive`},
		{"upstream unix", "http {\nupstream a {\nserver unix:/tmp/x;\n}\n}", nil, `site.conf:3: unix domain sockets in "server" directive is not supported yet`},
		{"hash param", "http {\nupstream a {\nhash $uri ketama;\nserver 127.0.0.1;\n}\n}", nil, `site.conf:3: invalid parameter "ketama" in "hash" directive`},
		{"random param", "http {\nupstream a {\nrandom three;\nserver 127.0.0.1;\n}\n}", nil, `site.conf:3: invalid parameter "three" in "random" directive`},
		{"upstream keepalive", "http {\nupstream a {\nserver 127.0.0.1;\nkeepalive 0;\n}\n}", nil, `site.conf:4: invalid value "0" in "keepalive" directive`},

		// include.
		{"missing include", "http {\ninclude nope.conf;\n}", nil, `site.conf:2: cannot open "nope.conf" in "include" directive: file does not exist`},
		{"include args", "include a b;", nil, `site.conf:1: invalid number of arguments in "include" directive`},
		{"include block", "include a {}", nil, `site.conf:1: directive "include" is not terminated by ";"`},
		{"error in included file", "http {\ninclude conf.d/*.conf;\n}",
			map[string]string{"conf.d/a.conf": "server {\n  bogus;\n}\n"}, `conf.d/a.conf:2: unknown directive "bogus"`},
		{"include cycle", "include a.conf;", map[string]string{"a.conf": "include b.conf;", "b.conf": "\ninclude a.conf;"},
			`b.conf:2: include cycle: "a.conf" includes itself in "include" directive`},
		{"include self by glob", "include *.conf;", nil, `site.conf:1: include cycle: "site.conf" includes itself in "include" directive`},
		{"include bad glob", "include [;", nil, `site.conf:1: invalid pattern "[" in "include" directive: syntax error in pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"site.conf": {Data: []byte(tt.src)}}
			for n, s := range tt.files {
				fsys[n] = &fstest.MapFile{Data: []byte(s)}
			}
			_, err := LoadFS(fsys, "site.conf")
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("error %T is not a *Error", err)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := LoadFS(fstest.MapFS{"site.conf": {Data: []byte(srv("gzip_disable msie6;"))}}, "site.conf")
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error %v is not a *Error", err)
	}
	if e.Pos != (Pos{"site.conf", 3}) || e.Directive != "gzip_disable" || e.Msg != `directive "gzip_disable" is not supported yet` {
		t.Errorf("got %+v", e)
	}
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("errors.Is(%v, ErrNotSupported) = false", err)
	}
	_, err = LoadFS(fstest.MapFS{"site.conf": {Data: []byte(srv("ssl_certificate $host.pem;"))}}, "site.conf")
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("ssl_certificate with variables: errors.Is(%v, ErrNotSupported) = false", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.conf"); err == nil || !strings.Contains(err.Error(), "does-not-exist.conf") {
		t.Errorf("Load: err = %v, want one naming the file", err)
	}
	if _, err := LoadFS(fstest.MapFS{}, "x.conf"); err == nil {
		t.Error("LoadFS: no error for a missing file")
	}
}
