package config

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// parseNumber parses a non-negative decimal integer, as ngx_atoi.
func parseNumber(s string) (int, error) {
	if s == "" {
		return 0, errValue
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errValue
		}
		if n > (math.MaxInt32-int(c-'0'))/10 {
			return 0, errValue
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// parseSize parses "N", "Nk", "Nm" or "Ng" (case-insensitive) into bytes.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, errValue
	}
	shift := 0
	switch s[len(s)-1] {
	case 'k', 'K':
		shift = 10
	case 'm', 'M':
		shift = 20
	case 'g', 'G':
		shift = 30
	}
	if shift > 0 {
		s = s[:len(s)-1]
	}
	if s == "" {
		return 0, errValue
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errValue
		}
		n = n*10 + int64(c-'0')
		if n > math.MaxInt64>>(shift+1) {
			return 0, errValue
		}
	}
	return n << shift, nil
}

// parseTime parses nginx's time syntax: numbers with units in decreasing
// order, y M w d h m s ms ("1h30m", "1m 30s", "500ms"); a bare number at
// the end means seconds.
func parseTime(s string) (time.Duration, error) {
	type unit struct {
		name string
		d    time.Duration
	}
	units := [...]unit{
		{"y", 365 * 24 * time.Hour},
		{"M", 30 * 24 * time.Hour},
		{"w", 7 * 24 * time.Hour},
		{"d", 24 * time.Hour},
		{"h", time.Hour},
		{"m", time.Minute},
		{"s", time.Second},
		{"ms", time.Millisecond},
	}
	var total time.Duration
	next := 0 // index of the smallest unit still allowed
	seen := false
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		i := 0
		var n int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int64(s[i]-'0')
			if n > math.MaxInt32 {
				return 0, errValue
			}
			i++
		}
		if i == 0 {
			return 0, errValue
		}
		s = s[i:]
		u := -1
		switch {
		case strings.HasPrefix(s, "ms"):
			u, s = 7, s[2:]
		case s == "" || s[0] == ' ':
			u = 6 // a bare number: seconds
		default:
			for j, un := range units[:7] {
				if s[0] == un.name[0] {
					u, s = j, s[1:]
					break
				}
			}
			if u < 0 {
				return 0, errValue
			}
		}
		if u < next {
			return 0, errValue
		}
		d := time.Duration(n) * units[u].d
		if d/units[u].d != time.Duration(n) || total > math.MaxInt64-d {
			return 0, errValue
		}
		total += d
		next = u + 1
		seen = true
	}
	if !seen {
		return 0, errValue
	}
	return total, nil
}

// parseFlag parses "on" or "off".
func parseFlag(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}

// errTemplate is a template syntax error; its text completes
// "... in "directive" directive".
type errTemplate string

func (e errTemplate) Error() string { return string(e) }

// ParseTemplate splits s at its variables ("$name" with letters, digits
// and underscores, "${name}", and "$0".."$9" for regex captures) and
// checks that each is a variable c10k provides (see KnownVariable) or a
// numbered capture. Named regex captures are known only within a config,
// so ParseTemplate rejects them; Load and Parse accept them when a regex
// of the config defines the name.
func ParseTemplate(s string) (Template, error) {
	t, err := splitTemplate(s)
	if err != nil {
		return Template{}, err
	}
	for _, part := range t.Parts {
		if v := part.Var; v != "" && !KnownVariable(v) && !isCapture(v) {
			return Template{}, fmt.Errorf("%w %q", ErrUnknownVariable, v)
		}
	}
	return t, nil
}

// isCapture reports whether name is a numbered regex capture, "0".."9".
func isCapture(name string) bool {
	return len(name) == 1 && name[0] >= '0' && name[0] <= '9'
}

// splitTemplate splits s at its variables without checking their names.
func splitTemplate(s string) (Template, error) {
	t := Template{Raw: s}
	lit := 0
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		if lit < i {
			t.Parts = append(t.Parts, TemplatePart{Lit: s[lit:i]})
		}
		i++
		var name string
		switch {
		case i < len(s) && s[i] == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return t, errTemplate(`the closing bracket in "` + s[i+1:] + `" variable is missing`)
			}
			name = s[i+1 : i+j]
			i += j + 1
			if name == "" {
				return t, errTemplate("invalid variable name")
			}
		case i < len(s) && s[i] >= '0' && s[i] <= '9':
			name = s[i : i+1]
			i++
		default:
			j := i
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j == i {
				return t, errTemplate("invalid variable name")
			}
			name = s[i:j]
			i = j
		}
		t.Parts = append(t.Parts, TemplatePart{Var: strings.ToLower(name)})
		lit = i
	}
	if lit < len(s) {
		t.Parts = append(t.Parts, TemplatePart{Lit: s[lit:]})
	}
	return t, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

var knownVariables = map[string]bool{
	"host": true, "hostname": true, "remote_addr": true, "remote_port": true,
	"binary_remote_addr": true, "server_addr": true, "server_port": true,
	"server_name": true, "server_protocol": true, "scheme": true,
	"request": true, "request_uri": true, "uri": true, "document_uri": true,
	"args": true, "query_string": true, "is_args": true,
	"request_method": true, "content_length": true, "content_type": true,
	"proxy_host": true, "proxy_port": true, "proxy_add_x_forwarded_for": true,
	"request_id": true, "msec": true, "time_local": true, "time_iso8601": true,
	"status": true, "body_bytes_sent": true, "request_time": true,
	"upstream_addr": true, "upstream_status": true,
	"upstream_response_time": true,
	"https":                  true, "document_root": true, "realpath_root": true,
	"remote_user": true, "bytes_sent": true, "request_length": true,
	"connection": true, "connection_requests": true, "pipe": true,
	"ssl_protocol": true, "ssl_session_reused": true, "ssl_server_name": true,
}

var variablePrefixes = []string{"http_", "arg_", "cookie_", "sent_http_", "upstream_http_"}

// KnownVariable reports whether name (lowercase, without "$") is a
// variable c10k provides: a fixed set such as "host" or "request_uri",
// and the families http_NAME, arg_NAME, cookie_NAME, sent_http_NAME and
// upstream_http_NAME. Regex captures are not included.
func KnownVariable(name string) bool {
	if knownVariables[name] {
		return true
	}
	for _, p := range variablePrefixes {
		if len(name) > len(p) && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
