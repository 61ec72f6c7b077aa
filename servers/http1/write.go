package http1

import "strconv"

// Continue100 is the interim response a server sends before reading the
// body of a request with "Expect: 100-continue".
var Continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// ResponseHead describes a response head to serialize. The serializer owns
// the framing and connection fields: fields of Header named Content-Length,
// Transfer-Encoding, Connection, Date or Server are not written.
type ResponseHead struct {
	Minor         int    // the client's minor version; the status line always says HTTP/1.1, as nginx does
	Status        int    // 100 to 999
	Header        Header // other fields, in order
	ContentLength int64  // -1 when unknown
	Chunked       bool   // send an unknown length chunked (to HTTP/1.1 clients)
	KeepAlive     bool   // the connection may stay open after the response
	Date          []byte // Date value, as from DateCache; none when empty
	Server        string // Server value; none when empty
	HeadOnly      bool   // the response to HEAD: the head says what a GET would get, no body follows
}

// hasBody reports whether the status allows a body.
func (h *ResponseHead) hasBody() bool {
	return h.Status >= 200 && h.Status != 204 && h.Status != 304
}

// SendsChunked reports whether the head announces chunked transfer coding,
// so that the body must be written with AppendChunk and AppendLastChunk.
func (h *ResponseHead) SendsChunked() bool {
	return h.Chunked && h.ContentLength < 0 && h.Minor >= 1 && h.hasBody() && !h.HeadOnly
}

// KeepsAlive reports whether the head says the connection stays open.
// It does not when KeepAlive is false, or when the body can only be
// delimited by closing (unknown length, not chunked).
func (h *ResponseHead) KeepsAlive() bool {
	if !h.KeepAlive {
		return false
	}
	return !h.hasBody() || h.HeadOnly || h.ContentLength >= 0 || h.SendsChunked()
}

// AppendResponseHead appends the response head h to dst: the status line,
// Server, Date, the fields of h.Header, Content-Length or
// "Transfer-Encoding: chunked", Connection, and the empty line. 1xx and
// 204 responses carry no Content-Length, nor do 304 ones (as nginx).
func AppendResponseHead(dst []byte, h *ResponseHead) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, h.Status)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(h.Status)...)
	dst = append(dst, "\r\n"...)
	if h.Server != "" {
		dst = appendField(dst, "Server: ", h.Server)
	}
	if len(h.Date) > 0 {
		dst = append(dst, "Date: "...)
		dst = append(dst, h.Date...)
		dst = append(dst, "\r\n"...)
	}
	for _, f := range h.Header {
		if ownedField(f.Name) {
			continue
		}
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case !h.hasBody():
	case h.ContentLength >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, h.ContentLength, 10)
		dst = append(dst, "\r\n"...)
	case h.SendsChunked():
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if h.KeepsAlive() {
		dst = append(dst, "Connection: keep-alive\r\n\r\n"...)
	} else {
		dst = append(dst, "Connection: close\r\n\r\n"...)
	}
	return dst
}

func appendField(dst []byte, prefix, value string) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

func appendStatus(dst []byte, code int) []byte {
	if code < 0 || code > 999 {
		code = 500
	}
	return append(dst, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
}

// ownedField reports whether the serializer writes the field itself.
func ownedField(name []byte) bool {
	switch len(name) {
	case 4:
		return EqualFold(name, "date")
	case 6:
		return EqualFold(name, "server")
	case 10:
		return EqualFold(name, "connection")
	case 14:
		return EqualFold(name, "content-length")
	case 17:
		return EqualFold(name, "transfer-encoding")
	}
	return false
}

// AppendRequestHead appends a request head for an upstream to dst:
// the request line with HTTP/1.minor, the fields of h in order (Host,
// Connection and framing fields are the caller's), and the empty line.
func AppendRequestHead(dst []byte, method, target []byte, minor int, h Header) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1."...)
	dst = append(dst, byte('0'+min(max(minor, 0), 9)))
	dst = append(dst, "\r\n"...)
	for _, f := range h {
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// AppendChunk appends data as one chunk. Empty data appends nothing, since
// an empty chunk would end the body.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(data)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the last chunk and the end of a chunked body,
// with no trailers.
func AppendLastChunk(dst []byte) []byte {
	return append(dst, "0\r\n\r\n"...)
}

// StatusText returns the reason phrase for code: nginx's text where nginx
// has one (so 302 is "Moved Temporarily", 503 "Service Temporarily
// Unavailable"), RFC 9110's otherwise, and "" for unknown codes.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 102:
		return "Processing"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 207:
		return "Multi-Status"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Moved Temporarily"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 305:
		return "Use Proxy"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Time-out"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Large"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Requested Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Content"
	case 425:
		return "Too Early"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 451:
		return "Unavailable For Legal Reasons"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Temporarily Unavailable"
	case 504:
		return "Gateway Time-out"
	case 505:
		return "HTTP Version Not Supported"
	case 507:
		return "Insufficient Storage"
	}
	return ""
}
