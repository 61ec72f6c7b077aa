package deploy

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/c10k/c10k/servers/config"
)

// Blue and Green are the two colors.
const (
	Blue  = "blue"
	Green = "green"
)

// Switch is the upstream switch Rewrite worked out for one file.
type Switch struct {
	File     string // the file holding the upstream block
	Line     int    // the line of its "upstream NAME {"
	Live     string // Blue or Green: the color the block lists now
	Next     string // the other color
	LiveAddr string // the live color's address, as given
	NextAddr string // the new color's address, as given
	Lines    []int  // the lines of the server directives switched
	Old, New []byte // the file before and after
}

// Rewrite finds the upstream block called name in src (the text of
// file) and which of the addresses blue and green its server directives
// list — exactly one of them, else an error wrapping ErrLive that names
// FILE:LINE — and returns src with the address of every server
// directive on the live one replaced by the other. Nothing else changes:
// comments, spacing, parameters (weight=, max_fails=, ...) and the other
// servers of the block stay byte for byte. Addresses compare as nginx
// resolves them: "localhost" is 127.0.0.1, a missing port is 80.
// line, when positive, picks the block that starts on that line (the
// config package's position for it).
func Rewrite(file string, src []byte, name string, line int, blue, green string) (*Switch, error) {
	stmts, err := statements(file, src)
	if err != nil {
		return nil, err
	}
	type server struct {
		addr word
		line int
	}
	var (
		found   bool
		upLine  int
		servers []server
		depth   int
		inside  = -1 // depth of the block's contents, -1 outside it
	)
	for _, st := range stmts {
		switch st.end {
		case '{':
			if !found && len(st.words) == 2 && st.words[0].text == "upstream" && st.words[1].text == name &&
				(line <= 0 || st.words[0].line == line) {
				found, upLine, inside = true, st.words[0].line, depth+1
			}
			depth++
		case '}':
			if depth == inside {
				inside = -1
			}
			depth--
		case ';':
			if depth == inside && len(st.words) >= 2 && st.words[0].text == "server" {
				servers = append(servers, server{st.words[1], st.words[0].line})
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: %w %q", file, ErrNoUpstream, name)
	}
	pos := file + ":" + strconv.Itoa(upLine)
	cb, cg := canonAddr(blue), canonAddr(green)
	var onBlue, onGreen []server
	for _, s := range servers {
		switch canonAddr(s.addr.text) {
		case cb:
			onBlue = append(onBlue, s)
		case cg:
			onGreen = append(onGreen, s)
		}
	}
	sw := &Switch{File: file, Line: upLine, Old: src}
	var live []server
	switch {
	case len(onBlue) > 0 && len(onGreen) > 0:
		return nil, fmt.Errorf("%s: upstream %q lists both blue %s (line %d) and green %s (line %d): %w",
			pos, name, blue, onBlue[0].line, green, onGreen[0].line, ErrLive)
	case len(onBlue) > 0:
		sw.Live, sw.Next, sw.LiveAddr, sw.NextAddr, live = Blue, Green, blue, green, onBlue
	case len(onGreen) > 0:
		sw.Live, sw.Next, sw.LiveAddr, sw.NextAddr, live = Green, Blue, green, blue, onGreen
	default:
		var has []string
		for _, s := range servers {
			has = append(has, s.addr.text)
		}
		return nil, fmt.Errorf("%s: upstream %q lists neither blue %s nor green %s (it has %s): %w",
			pos, name, blue, green, strings.Join(has, ", "), ErrLive)
	}
	var out bytes.Buffer
	at := 0
	for _, s := range live {
		out.Write(src[at:s.addr.start])
		if s.addr.quote != 0 {
			out.WriteByte(s.addr.quote)
			out.WriteString(sw.NextAddr)
			out.WriteByte(s.addr.quote)
		} else {
			out.WriteString(sw.NextAddr)
		}
		at = s.addr.end
		if len(sw.Lines) == 0 || sw.Lines[len(sw.Lines)-1] != s.line {
			sw.Lines = append(sw.Lines, s.line)
		}
	}
	out.Write(src[at:])
	sw.New = out.Bytes()
	return sw, nil
}

// Plan loads the config file (and its includes) with the config
// package, finds the file that holds upstream name and rewrites it (see
// Rewrite). An upstream the config does not have is an error wrapping
// ErrNoUpstream that names the file.
func Plan(file, name, blue, green string) (*Switch, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	var up *config.Upstream
	if cfg.HTTP != nil {
		up = cfg.HTTP.Upstreams[name]
	}
	if up == nil {
		return nil, fmt.Errorf("%s: %w %q", file, ErrNoUpstream, name)
	}
	where := up.Pos.File
	if where == "" {
		where = file
	}
	src, err := os.ReadFile(where)
	if err != nil {
		return nil, err
	}
	return Rewrite(where, src, name, up.Pos.Line, blue, green)
}

// canonAddr is addr ("host:port", or "host" for port 80) as nginx
// would connect to it, for comparisons: an IP literal in its canonical
// form, "localhost" as 127.0.0.1, names in lower case.
func canonAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "80"
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	return net.JoinHostPort(host, port)
}

// checkAddr checks an address given for a color: host:port with a port
// in 1..65535 and a host of letters, digits, '.', '-', ':' (IPv6 in
// brackets), so that it is safe in a config line and a shell command.
func checkAddr(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: --%s %q: want host:port", ErrUsage, flag, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: --%s %q: port must be 1-65535", ErrUsage, flag, addr)
	}
	for _, c := range addr {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return fmt.Errorf("%w: --%s %q: unexpected %q", ErrUsage, flag, addr, c)
		}
	}
	return nil
}

// word is one word of a statement, with where it is in the source:
// src[start:end] is the word as written, quotes included.
type word struct {
	text       string // unquoted (escapes are kept as written)
	start, end int
	line       int
	quote      byte // '"' or '\'' for a quoted word, else 0
}

// statement is a directive's words and how it ended: ';', '{' (a block
// opens) or '}' (a block closes; no words).
type statement struct {
	words []word
	end   byte
}

// statements splits nginx.conf text into statements as nginx's
// ngx_conf_read_token does (and the config package after it): words end
// at white space, ';' or '{'; '}' and '#' are special only where a word
// would start; quotes open strings only there; "${" does not end a word.
// It keeps each word's byte offsets, which the config package's model
// does not.
func statements(file string, src []byte) ([]statement, error) {
	var (
		out   []statement
		words []word
		line  = 1
		pos   int
	)
	errorf := func(format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...))
	}
	for pos < len(src) {
		c := src[pos]
		switch c {
		case '\n':
			line++
			pos++
		case ' ', '\t', '\r':
			pos++
		case '#':
			for pos < len(src) && src[pos] != '\n' {
				pos++
			}
		case ';', '{':
			if len(words) == 0 {
				return nil, errorf("unexpected %q", string(c))
			}
			out = append(out, statement{words, c})
			words = nil
			pos++
		case '}':
			if len(words) > 0 {
				return nil, errorf(`unexpected "}"`)
			}
			out = append(out, statement{nil, '}'})
			pos++
		case '"', '\'':
			w := word{start: pos, line: line, quote: c}
			pos++
			for {
				if pos >= len(src) {
					return nil, errorf("unexpected end of file in a quoted string")
				}
				ch := src[pos]
				if ch == '\\' && pos+1 < len(src) {
					if src[pos+1] == '\n' {
						line++
					}
					pos += 2
					continue
				}
				if ch == '\n' {
					line++
				}
				if ch == c {
					break
				}
				pos++
			}
			w.text = string(src[w.start+1 : pos])
			pos++
			w.end = pos
			words = append(words, w)
		default:
			w := word{start: pos, line: line}
			variable := false
		scan:
			for pos < len(src) {
				ch := src[pos]
				if ch == '{' && variable {
					variable = false
					pos++
					continue
				}
				variable = false
				switch ch {
				case ' ', '\t', '\r', '\n', ';', '{':
					break scan
				case '\\':
					if pos+1 < len(src) {
						if src[pos+1] == '\n' {
							line++
						}
						pos++
					}
				case '$':
					variable = true
				}
				pos++
			}
			w.end = pos
			w.text = string(src[w.start:w.end])
			words = append(words, w)
		}
	}
	if len(words) > 0 {
		return nil, errorf(`unexpected end of file, expecting ";" or "}"`)
	}
	return out, nil
}

// replaceFile writes data to path as one atomic step — a temporary file
// in the same directory, synced, then renamed over it — after saving
// the current content, which must still be old, in path+".bak" the same
// way. A symbolic link is followed: the file it points to is replaced.
// It returns the backup's path.
func replaceFile(path string, old, data []byte) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	cur, err := os.ReadFile(real)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(cur, old) {
		return "", fmt.Errorf("%s: %w: not switched", path, ErrChanged)
	}
	bak := real + ".bak"
	if err := writeAtomic(bak, old, fi.Mode().Perm()); err != nil {
		return "", err
	}
	if err := writeAtomic(real, data, fi.Mode().Perm()); err != nil {
		return "", err
	}
	return bak, nil
}

// restoreFile puts data back in path atomically, as replaceFile writes.
func restoreFile(path string, data []byte) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(real); err == nil {
		perm = fi.Mode().Perm()
	}
	return writeAtomic(real, data, perm)
}

// writeAtomic writes data to a temporary file beside path, syncs it,
// renames it to path and syncs the directory, so that path holds either
// the old content or the new one, whole, even across a crash.
func writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		// The rename is on disk once the directory is; a failure here
		// loses nothing but durability, as with nginx's own files.
		d.Sync()
		d.Close()
	}
	return nil
}
