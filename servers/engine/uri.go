package engine

import (
	"bytes"
	"errors"
)

var (
	errBadURI     = errors.New("invalid request URI")
	errAboveRoot  = errors.New("URI above root")
	errNULInURI   = errors.New("NUL in URI")
	errBadPercent = errors.New("invalid percent-encoding in URI")
)

// normalize appends to dst the decoded, normalized form of the
// percent-encoded path, as ngx_http_parse_complex_uri does: %XX decoded
// (a decoded "/" and "." act as real ones, as in nginx), "//" merged, "."
// segments removed and ".." segments resolved. A ".." above the root, a
// decoded NUL or a bad escape is an error (400). "%25" decodes to a
// literal "%" and is never decoded again, so double encoding stays
// harmless; "\" is an ordinary byte on Unix.
func normalize(dst, path []byte) ([]byte, error) {
	if len(path) == 0 || path[0] != '/' {
		return dst, errBadURI
	}
	base := len(dst)
	seg := base // index of the '/' that starts the current segment
	dst = append(dst, '/')
	for i := 1; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			if i+2 >= len(path) {
				return dst[:base], errBadPercent
			}
			h, l := unhex(path[i+1]), unhex(path[i+2])
			if h < 0 || l < 0 {
				return dst[:base], errBadPercent
			}
			c = byte(h<<4 | l)
			i += 2
		}
		switch c {
		case 0:
			return dst[:base], errNULInURI
		case '/':
			var err error
			if dst, seg, err = endSegment(dst, base, seg, true); err != nil {
				return dst[:base], err
			}
		default:
			dst = append(dst, c)
		}
	}
	dst, _, err := endSegment(dst, base, seg, false)
	if err != nil {
		return dst[:base], err
	}
	return dst, nil
}

// endSegment finishes the segment that starts at dst[seg] ('/'): an empty
// one ("//") or "." is dropped, ".." removes the one before it. slash
// says a '/' follows.
func endSegment(dst []byte, base, seg int, slash bool) ([]byte, int, error) {
	s := dst[seg+1:]
	switch {
	case len(s) == 0:
		return dst, seg, nil // "//" merged, or trailing "/"
	case len(s) == 1 && s[0] == '.':
		return dst[:seg+1], seg, nil
	case len(s) == 2 && s[0] == '.' && s[1] == '.':
		if seg == base {
			return dst, seg, errAboveRoot
		}
		prev := base + bytes.LastIndexByte(dst[base:seg], '/')
		return dst[:prev+1], prev, nil
	}
	if slash {
		dst = append(dst, '/')
		seg = len(dst) - 1
	}
	return dst, seg, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// escapeURI appends s percent-encoded as ngx_escape_uri(NGX_ESCAPE_URI)
// does for a path: controls, space, '"', '#', '%', '?', DEL and bytes
// >= 0x80 are escaped.
func escapeURI(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '#' || c == '%' || c == '?' {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// escapeCTL appends s with controls, space, DEL and bytes >= 0x80
// percent-encoded: a URL from a template can then never break a header.
func escapeCTL(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		if c <= ' ' || c >= 0x7f {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
