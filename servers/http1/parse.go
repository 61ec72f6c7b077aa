package http1

import "bytes"

// maxEmptyLines is how many empty lines may precede a request line
// (RFC 9112 §2.2 asks to ignore at least one).
const maxEmptyLines = 8

// Parser states.
const (
	stStart   = iota // no message begun
	stLine           // before the request or status line
	stHeaders        // among header fields
)

// Header facts collected while parsing.
const (
	fHost = 1 << iota
	fAbsHost
	fEncoding
	fChunked
	fClose
	fKeepAlive
	fExpect
)

// slash is the path of an absolute-form target without one.
var slash = []byte("/")

// Parser parses message heads incrementally. Its zero value is ready to
// use with DefaultLimits.
//
// Call Parse (or ParseResponse) with everything received so far from the
// start of the message, as often as needed: after ErrIncomplete, append the
// next bytes to the same buffer and call again with the same Request; the
// parser resumes where it stopped instead of rescanning. Between calls that
// continue a message the bytes already passed must stay where they are; a
// caller that moves them (to a bigger buffer, say) should call Reset. A
// parser that sees a buffer starting at another address starts over.
//
// After a success or an error the parser is ready for the next message:
// with pipelining, call Parse again with buf[n:].
//
// Line ends: CRLF, or a bare LF as nginx accepts; a CR not followed by LF
// is an error anywhere in a head.
//
// The rules, and where they differ from nginx 1.22:
//   - up to 8 empty lines before the request line are skipped;
//   - the request line is method SP request-target SP HTTP/D.D with single
//     spaces; the method is uppercase letters, '_' and '-', as nginx
//     1.22's ngx_http_parse_request_line accepts (any other byte, a
//     lowercase "get" included, is 400, not the 405 of an unknown method);
//     a missing version (HTTP/0.9, which nginx serves without a head) or
//     a malformed one is 400, and so is "HTTP/0.x" as in nginx; a major
//     version above 1 is 505;
//   - the target is origin-form, absolute-form with http or https (its
//     authority becomes Host, overriding the Host field) or "*" for
//     OPTIONS; anything else is 400;
//   - fields: no obs-fold, no space before the colon, token names, values
//     of HTAB, SP, VCHAR and obs-text, trimmed of surrounding OWS; a
//     field whose name has a token byte other than a letter, digit or '-'
//     ('_', '.', '!'...) is ignored, as nginx's defaults
//     (ignore_invalid_headers on, underscores_in_headers off) ignore it,
//     where nginx also ignores names with separators or obs-text that
//     are 400 here;
//   - HTTP/1.1 needs exactly one Host, even with an absolute-form target;
//     an empty or invalid Host is 400 (see ValidHost);
//   - Content-Length is one field of digits: a second one is 400 even when
//     equal, like nginx, and so is a list such as "5, 5";
//   - Transfer-Encoding must be exactly "chunked" (any case, spaces around
//     it but no tabs, as nginx), else 501; with Content-Length as well, or
//     in an HTTP/1.0 request, it is 400; Content-Length with a tab around
//     its digits is 400;
//   - lines and the head over Limits are 414 (request line) or 431 where
//     nginx answers 400 "Request Header Or Cookie Too Large".
type Parser struct {
	Limits Limits

	state  uint8
	empty  uint8 // empty lines skipped before the request line
	flags  uint16
	mdone  bool  // the method of the current request line is checked
	mscan  int   // bytes of the current request line checked for the method
	nfield int   // header fields so far
	off    int   // start of the first unprocessed line
	scan   int   // buf[off:scan] holds no '\n'
	base   *byte // address of buf[0] when the message began
	lim    Limits
}

// Reset makes p forget a partly parsed message.
func (p *Parser) Reset() {
	*p = Parser{Limits: p.Limits}
}

// Parse parses a request head from buf into req and returns the number of
// bytes the head takes, so that buf[n:] is the body or the next request.
// It returns ErrIncomplete when the head does not end in buf yet, unless
// what is there already breaks a limit or the syntax; any other error is an
// *Error whose Status must be answered before closing the connection.
// On the first call for a message Parse resets req; slices in req alias buf.
func (p *Parser) Parse(buf []byte, req *Request) (n int, err error) {
	if p.begin(buf) {
		req.Reset()
	}
	n, err = p.run(buf, req, nil)
	if err == ErrIncomplete {
		return 0, err
	}
	if err == nil {
		err = p.finishRequest(req)
	}
	p.Reset()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ParseResponse parses a response head from buf into resp, like Parse.
// headRequest says the request was HEAD, so no body follows.
//
// Interim responses (1xx but 101) come back like final ones, with
// resp.Interim() true and resp.NoBody set: the caller drops buf[:n] (or
// relays a 100 Continue) and calls ParseResponse again for the next head.
// Errors are *Error with Status 502.
func (p *Parser) ParseResponse(buf []byte, resp *Response, headRequest bool) (n int, err error) {
	if p.begin(buf) {
		resp.Reset()
	}
	n, err = p.run(buf, nil, resp)
	if err == ErrIncomplete {
		return 0, err
	}
	if err == nil {
		err = p.finishResponse(resp, headRequest)
	}
	p.Reset()
	if err != nil {
		return 0, upstream(err)
	}
	return n, nil
}

// begin reports whether buf starts a new message, and if so sets p up.
func (p *Parser) begin(buf []byte) bool {
	if p.state != stStart && len(buf) >= p.off {
		switch {
		case len(buf) == 0:
			return false
		case p.base == nil:
			p.base = &buf[0]
			return false
		case p.base == &buf[0]:
			return false
		}
	}
	*p = Parser{Limits: p.Limits, state: stLine, lim: p.Limits.withDefaults()}
	if len(buf) > 0 {
		p.base = &buf[0]
	}
	return true
}

// run consumes the complete lines of buf one by one until the head ends.
func (p *Parser) run(buf []byte, req *Request, resp *Response) (int, error) {
	for {
		start := p.off
		limit, tooLong := p.lim.FieldMax, ErrFieldTooLarge
		if p.state == stLine {
			limit, tooLong = p.lim.LineMax, ErrURITooLong
		}
		if room := p.lim.HeaderMax - start; room < limit {
			limit, tooLong = room, ErrHeaderTooLarge
		}
		checkMethod := req != nil && p.state == stLine && !p.mdone
		i := bytes.IndexByte(buf[p.scan:], '\n')
		if i < 0 {
			p.scan = len(buf)
			avail := len(buf) - start
			if checkMethod {
				if err := p.checkMethod(buf[start : start+min(avail, limit)]); err != nil {
					return 0, err
				}
			}
			if avail >= limit {
				return 0, tooLong
			}
			return 0, ErrIncomplete
		}
		end := p.scan + i // the '\n'
		if checkMethod {
			if err := p.checkMethod(buf[start:min(end+1, start+limit)]); err != nil {
				return 0, err
			}
		}
		if end+1-start > limit {
			return 0, tooLong
		}
		p.off, p.scan = end+1, end+1
		p.mdone, p.mscan = false, 0

		line := buf[start:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return 0, ErrBareCR
		}
		var err error
		switch {
		case p.state == stLine && resp != nil:
			err = statusLine(line, resp)
			p.state = stHeaders
		case p.state == stLine:
			if len(line) == 0 {
				if p.empty++; p.empty > maxEmptyLines {
					return 0, ErrRequestLine
				}
				continue
			}
			err = p.requestLine(line, req)
			p.state = stHeaders
		case len(line) == 0:
			return p.off, nil
		case resp != nil:
			err = p.responseField(line, resp)
		default:
			err = p.requestField(line, req)
		}
		if err != nil {
			return 0, err
		}
	}
}

// checkMethod checks b, the start of a request line, as far as the method
// goes, so that garbage is refused before the line ends. It resumes at
// p.mscan. An empty line (CRLF or LF) passes.
func (p *Parser) checkMethod(b []byte) error {
	for i := p.mscan; i < len(b); i++ {
		c := b[i]
		switch {
		case methodTable[c]:
			continue
		case c == ' ' && i > 0:
			p.mdone = true
			return nil
		case i == 0 && c == '\n':
			return nil
		case i == 0 && c == '\r':
			if len(b) > 1 && b[1] != '\n' {
				return ErrBareCR
			}
			return nil
		}
		return ErrMethod
	}
	p.mscan = len(b)
	return nil
}

// requestLine parses method SP request-target SP HTTP-version; the method
// is already checked.
func (p *Parser) requestLine(line []byte, req *Request) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrMethod
	}
	req.Method = line[:sp]
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return ErrRequestLine // HTTP/0.9 simple request
	}
	target, version := rest[:sp], rest[sp+1:]
	if len(target) == 0 {
		return ErrTarget
	}
	for _, c := range target {
		if !targetTable[c] {
			return ErrTarget
		}
	}
	major, minor, err := parseVersion(version)
	if err != nil {
		return err
	}
	req.Target, req.Major, req.Minor = target, major, minor

	switch {
	case target[0] == '/':
		req.Path, req.Query = splitQuery(target)
	case len(target) == 1 && target[0] == '*':
		if string(req.Method) != "OPTIONS" {
			return ErrTarget
		}
		req.Path = target
	default:
		rest, ok := cutScheme(target)
		if !ok {
			return ErrTarget
		}
		i := 0
		for i < len(rest) && rest[i] != '/' && rest[i] != '?' {
			i++
		}
		auth := rest[:i]
		if len(auth) == 0 || bytes.IndexByte(auth, '@') >= 0 {
			return ErrTarget
		}
		if !ValidHost(auth) {
			return ErrInvalidHost
		}
		req.Host = auth
		p.flags |= fAbsHost
		rest = rest[i:]
		if len(rest) == 0 || rest[0] == '?' {
			req.Path = slash
			if len(rest) > 0 {
				req.Query = rest[1:]
			}
		} else {
			req.Path, req.Query = splitQuery(rest)
		}
	}
	return nil
}

// cutScheme strips "http://" or "https://" (any case) from target.
func cutScheme(target []byte) ([]byte, bool) {
	for _, s := range [...]string{"http://", "https://"} {
		if len(target) >= len(s) && EqualFold(target[:len(s)], s) {
			return target[len(s):], true
		}
	}
	return nil, false
}

func splitQuery(target []byte) (path, query []byte) {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		return target[:i], target[i+1:]
	}
	return target, nil
}

// parseVersion parses "HTTP/" DIGIT "." DIGIT.
func parseVersion(v []byte) (major, minor int, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, ErrVersion
	}
	major, minor = int(v[5]-'0'), int(v[7]-'0')
	if major == 0 {
		return 0, 0, ErrVersion // nginx: a major version must start with 1-9
	}
	if major != 1 {
		return 0, 0, ErrVersionNotSupported
	}
	return major, minor, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// statusLine parses HTTP-version SP 3DIGIT [SP reason-phrase]; the space
// before an empty reason may be missing, as nginx allows.
func statusLine(line []byte, resp *Response) error {
	if len(line) < 12 || line[8] != ' ' {
		return ErrStatusLine
	}
	major, minor, err := parseVersion(line[:8])
	if err != nil {
		return ErrStatusLine
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return ErrStatusLine
	}
	resp.Major, resp.Minor = major, minor
	resp.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	rest := line[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return ErrStatusLine
		}
		for _, c := range rest[1:] {
			if !valueTable[c] {
				return ErrStatusLine
			}
		}
		resp.Reason = rest[1:]
	}
	return nil
}

// field splits a header field line into name and trimmed value.
func (p *Parser) field(line []byte) (Field, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return Field{}, ErrObsFold
	}
	i := 0
	for i < len(line) && tokenTable[line[i]] {
		i++
	}
	switch {
	case i == len(line):
		return Field{}, ErrHeaderLine
	case i == 0 || line[i] != ':':
		return Field{}, ErrFieldName
	}
	v := trimOWS(line[i+1:])
	for _, c := range v {
		if !valueTable[c] {
			return Field{}, ErrFieldValue
		}
	}
	if p.nfield++; p.nfield > p.lim.MaxFields {
		return Field{}, ErrTooManyFields
	}
	return Field{Name: line[:i], Value: v}, nil
}

func (p *Parser) requestField(line []byte, req *Request) error {
	f, err := p.field(line)
	if err != nil {
		return err
	}
	if !plainName(f.Name) {
		// nginx (ignore_invalid_headers on, underscores_in_headers off)
		// ignores a field named with other bytes than letters, digits
		// and '-': "Transfer_Encoding" frames nothing, and "X_Real"
		// cannot pose as X-Real to an upstream or a CGI program.
		return nil
	}
	req.Header = append(req.Header, f)
	switch len(f.Name) {
	case 4:
		if EqualFold(f.Name, "host") {
			if p.flags&fHost != 0 {
				return ErrDuplicateHost
			}
			p.flags |= fHost
			if !ValidHost(f.Value) {
				return ErrInvalidHost
			}
			if p.flags&fAbsHost == 0 {
				req.Host = f.Value
			}
		}
	case 6:
		if EqualFold(f.Name, "expect") && EqualFold(f.Value, "100-continue") {
			p.flags |= fExpect
		}
	default:
		// The framing fields are judged as nginx reads them: only
		// spaces are stripped, so "Transfer-Encoding:\tchunked" is an
		// unknown coding (501) and "Content-Length:\t5" invalid (400).
		f.Value = trimSP(line[len(f.Name)+1:])
		return p.framingField(f, &req.ContentLength)
	}
	return nil
}

// plainName reports whether name has only letters, digits and '-'.
func plainName(name []byte) bool {
	for _, c := range name {
		if !nameTable[c] {
			return false
		}
	}
	return true
}

func (p *Parser) responseField(line []byte, resp *Response) error {
	f, err := p.field(line)
	if err != nil {
		return err
	}
	resp.Header = append(resp.Header, f)
	return p.framingField(f, &resp.ContentLength)
}

// framingField notes Connection, Content-Length and Transfer-Encoding.
func (p *Parser) framingField(f Field, length *int64) error {
	switch len(f.Name) {
	case 10:
		if EqualFold(f.Name, "connection") {
			if HasToken(f.Value, "close") {
				p.flags |= fClose
			}
			if HasToken(f.Value, "keep-alive") {
				p.flags |= fKeepAlive
			}
		}
	case 14:
		if EqualFold(f.Name, "content-length") {
			if *length >= 0 {
				return ErrDuplicateLength
			}
			n, ok := parseLength(f.Value)
			if !ok {
				return ErrContentLength
			}
			*length = n
		}
	case 17:
		if EqualFold(f.Name, "transfer-encoding") {
			if p.flags&fEncoding != 0 {
				return ErrDuplicateEncoding
			}
			p.flags |= fEncoding
			if EqualFold(f.Value, "chunked") {
				p.flags |= fChunked
			}
		}
	}
	return nil
}

// finishRequest applies the rules that need the whole head.
func (p *Parser) finishRequest(req *Request) error {
	http11 := req.Minor >= 1
	if http11 && p.flags&fHost == 0 {
		return ErrMissingHost
	}
	if p.flags&fEncoding != 0 {
		switch {
		case !http11:
			return ErrEncodingInHTTP10
		case p.flags&fChunked == 0:
			return ErrTransferEncoding
		case req.ContentLength >= 0:
			return ErrLengthAndChunked
		}
		req.Chunked = true
	}
	if http11 {
		req.KeepAlive = p.flags&fClose == 0
		req.Expect100 = p.flags&fExpect != 0
	} else {
		req.KeepAlive = p.flags&fKeepAlive != 0 && p.flags&fClose == 0
	}
	return nil
}

// finishResponse decides the framing of a response (RFC 9112 §6.3).
func (p *Parser) finishResponse(resp *Response, headRequest bool) error {
	http11 := resp.Minor >= 1
	s := resp.Status
	resp.NoBody = headRequest || s < 200 || s == 204 || s == 304
	if p.flags&fEncoding != 0 {
		if p.flags&fChunked == 0 || resp.ContentLength >= 0 {
			return ErrUpstreamFraming
		}
		resp.Chunked = !resp.NoBody
	}
	keep := p.flags&fKeepAlive != 0
	if http11 {
		keep = true
	}
	if p.flags&fClose != 0 || !http11 && p.flags&fEncoding != 0 {
		keep = false
	}
	if !resp.NoBody && !resp.Chunked && resp.ContentLength < 0 {
		resp.UntilClose = true
		keep = false
	}
	resp.KeepAlive = keep
	return nil
}
