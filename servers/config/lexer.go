package config

import (
	"fmt"
	"strings"
)

// word is one argument of a directive, unescaped.
type word struct {
	text   string
	line   int
	quoted bool
}

// lexer splits nginx.conf text into statements the way nginx's
// ngx_conf_read_token does: words end at white space, ";" or "{"; a "}"
// or "#" is special only where a word would start; quotes open strings
// only at the start of a word; "${" does not end a word.
type lexer struct {
	file string
	src  []byte
	pos  int
	line int
	buf  []word
}

func newLexer(file string, src []byte) *lexer {
	return &lexer{file: file, src: src, line: 1}
}

// Statement ends, as returned by next.
const (
	endEOF   = 0
	endSemi  = ';'
	endOpen  = '{'
	endClose = '}'
)

func (l *lexer) errorf(format string, args ...any) *Error {
	return &Error{Pos: Pos{l.file, l.line}, Msg: fmt.Sprintf(format, args...)}
}

// next returns the words of the next statement and how it ended:
// endSemi, endOpen (words non-empty), endClose or endEOF (words empty).
// The returned slice is reused by the following call.
func (l *lexer) next() ([]word, byte, error) {
	words := l.buf[:0]
	defer func() { l.buf = words[:0] }()
	for {
		if l.pos >= len(l.src) {
			if len(words) > 0 {
				return nil, 0, l.errorf(`unexpected end of file, expecting ";" or "}"`)
			}
			return nil, endEOF, nil
		}
		c := l.src[l.pos]
		switch c {
		case '\n':
			l.line++
			l.pos++
		case ' ', '\t', '\r':
			l.pos++
		case '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case ';', '{':
			if len(words) == 0 {
				return nil, 0, l.errorf("unexpected %q", string(c))
			}
			l.pos++
			return words, c, nil
		case '}':
			if len(words) > 0 {
				return nil, 0, l.errorf(`unexpected "}"`)
			}
			l.pos++
			return nil, endClose, nil
		default:
			w, err := l.word()
			if err != nil {
				return nil, 0, err
			}
			words = append(words, w)
		}
	}
}

// word reads one word starting at l.pos.
func (l *lexer) word() (word, error) {
	w := word{line: l.line}
	c := l.src[l.pos]
	if c == '"' || c == '\'' {
		l.pos++
		start := l.pos
		for {
			if l.pos >= len(l.src) {
				return w, l.errorf(`unexpected end of file, expecting ";" or "}"`)
			}
			ch := l.src[l.pos]
			if ch == '\\' && l.pos+1 < len(l.src) {
				if l.src[l.pos+1] == '\n' {
					l.line++
				}
				l.pos += 2
				continue
			}
			if ch == '\n' {
				l.line++
			}
			if ch == c {
				break
			}
			l.pos++
		}
		w.text = unescape(l.src[start:l.pos])
		w.quoted = true
		l.pos++
		// A string must be followed by a separator.
		if l.pos < len(l.src) {
			switch ch := l.src[l.pos]; ch {
			case ' ', '\t', '\r', '\n', ';', '{':
			default:
				return w, l.errorf("unexpected %q", string(ch))
			}
		}
		return w, nil
	}
	start := l.pos
	variable := false
	for l.pos < len(l.src) {
		ch := l.src[l.pos]
		if ch == '{' && variable {
			variable = false
			l.pos++
			continue
		}
		variable = false
		switch ch {
		case ' ', '\t', '\r', '\n', ';', '{':
			w.text = unescape(l.src[start:l.pos])
			return w, nil
		case '\\':
			if l.pos+1 < len(l.src) {
				if l.src[l.pos+1] == '\n' {
					l.line++
				}
				l.pos++
			}
		case '$':
			variable = true
		}
		l.pos++
	}
	w.text = unescape(l.src[start:l.pos])
	return w, nil
}

// unescape applies nginx's escapes: \" \' \\ become the character, \t \r
// \n the control character; a backslash before anything else is kept.
func unescape(b []byte) string {
	i := 0
	for i < len(b) && b[i] != '\\' {
		i++
	}
	if i == len(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	sb.Write(b[:i])
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '"', '\'', '\\':
				i++
				c = b[i]
			case 't':
				i++
				c = '\t'
			case 'r':
				i++
				c = '\r'
			case 'n':
				i++
				c = '\n'
			}
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
