package http1

// Character classes, as 256-entry tables.
var (
	tokenTable  = makeTable(isTokenChar)
	methodTable = makeTable(isMethodChar)
	valueTable  = makeTable(isValueChar)
	targetTable = makeTable(func(c byte) bool { return c > ' ' && c != 0x7f })
	nameTable   = makeTable(func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
	})
)

func makeTable(f func(byte) bool) (t [256]bool) {
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

// isMethodChar reports whether c may appear in a method: 'A'-'Z', '_'
// and '-', as in nginx's ngx_http_parse_request_line.
func isMethodChar(c byte) bool { return 'A' <= c && c <= 'Z' || c == '_' || c == '-' }

// isTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isValueChar reports whether c may appear in a field value: HTAB, SP,
// VCHAR and obs-text (RFC 9110 §5.5).
func isValueChar(c byte) bool {
	return c == '\t' || c >= ' ' && c != 0x7f
}

// ValidFieldName reports whether name is a non-empty token.
func ValidFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v can be sent as a field value: it holds
// no CR, LF or NUL. The engine checks values built from variables with it,
// so that no one injects header lines.
func ValidFieldValue(v []byte) bool {
	for _, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// ValidHost reports whether host (a Host value or an authority, port
// included) is acceptable, like nginx's ngx_http_validate_host: not empty,
// no "..", no '/' or '\\', no control characters or spaces. It does not
// change host: routing lowercases it and drops the port and a trailing dot.
func ValidHost(host []byte) bool {
	const (
		usual = iota
		literal
		rest
	)
	state := usual
	dot := len(host) // position of the last '.', none yet
	hostLen := len(host)
	for i, c := range host {
		switch c {
		case '.':
			if dot == i-1 {
				return false
			}
			dot = i
		case ':':
			if state == usual {
				hostLen = i
				state = rest
			}
		case '[':
			if i == 0 {
				state = literal
			}
		case ']':
			if state == literal {
				hostLen = i + 1
				state = rest
			}
		default:
			if c == '/' || c == '\\' || c <= ' ' || c == 0x7f {
				return false
			}
		}
	}
	if dot == len(host)-1 && dot < hostLen {
		hostLen--
	}
	return hostLen > 0
}

// trimSP strips the spaces (not tabs) around b, as nginx strips a value.
func trimSP(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// trimOWS strips the OWS (spaces and tabs) around b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// HasToken reports whether the comma-separated list v, a field value
// such as Connection's, holds token (ASCII case-insensitive).
func HasToken[T string | []byte](v []byte, token T) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if EqualFold(trimOWS(v[:i]), token) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// parseLength parses a Content-Length value: 1*DIGIT, no sign, no list,
// fitting an int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-9)/10 && n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
