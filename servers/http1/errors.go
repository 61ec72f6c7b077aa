package http1

import "errors"

// Error is a protocol error found in a message. The connection it came from
// cannot be trusted any further: answer Status (when the peer is a client)
// and close it.
type Error struct {
	Status int    // HTTP status to answer with
	Reason string // what was wrong, in nginx's log wording
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

// StatusOf returns the status to answer for err: 0 for nil and ErrIncomplete,
// the Status of an *Error in err's chain, and 500 for any other error.
func StatusOf(err error) int {
	if err == nil || err == ErrIncomplete {
		return 0
	}
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if errors.Is(err, ErrIncomplete) {
		return 0
	}
	return 500
}

// ErrIncomplete means the buffer ends before the message head (or the
// piece of body being decoded) does: read more and call again.
var ErrIncomplete = errors.New("http1: incomplete message")

// Request head errors.
//
// nginx answers a header line or a whole head over its limit with
// 400 "Request Header Or Cookie Too Large" (its internal status 494);
// this package uses the standard 431 instead.
var (
	ErrRequestLine         = &Error{400, "client sent invalid request"}
	ErrMethod              = &Error{400, "client sent invalid method"}
	ErrTarget              = &Error{400, "client sent invalid request-target"}
	ErrVersion             = &Error{400, "client sent invalid version"}
	ErrVersionNotSupported = &Error{505, "client sent unsupported HTTP version"}
	ErrURITooLong          = &Error{414, "client sent too long URI"}
	ErrFieldTooLarge       = &Error{431, "client sent too long header line"}
	ErrHeaderTooLarge      = &Error{431, "client sent too large request head"}
	ErrTooManyFields       = &Error{431, "client sent too many header fields"}
	ErrBareCR              = &Error{400, "client sent CR not followed by LF"}
	ErrObsFold             = &Error{400, "client sent folded header line"}
	ErrHeaderLine          = &Error{400, "client sent header line without colon"}
	ErrFieldName           = &Error{400, "client sent invalid header name"}
	ErrFieldValue          = &Error{400, "client sent invalid header value"}
	ErrMissingHost         = &Error{400, "client sent HTTP/1.1 request without \"Host\" header"}
	ErrDuplicateHost       = &Error{400, "client sent duplicate \"Host\" header"}
	ErrInvalidHost         = &Error{400, "client sent invalid host"}
	ErrContentLength       = &Error{400, "client sent invalid \"Content-Length\" header"}
	ErrDuplicateLength     = &Error{400, "client sent duplicate \"Content-Length\" header"}
	ErrLengthAndChunked    = &Error{400, "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time"}
	ErrDuplicateEncoding   = &Error{400, "client sent duplicate \"Transfer-Encoding\" header"}
	ErrEncodingInHTTP10    = &Error{400, "client sent HTTP/1.0 request with \"Transfer-Encoding\" header"}
	ErrTransferEncoding    = &Error{501, "client sent unknown \"Transfer-Encoding\""}
)

// Body errors, from Body.Decode and Body.EOF. A proxy reading an upstream
// body treats any of them as a broken upstream (502).
var (
	ErrChunkSize     = &Error{400, "invalid chunk size"}
	ErrChunk         = &Error{400, "invalid chunked body"}
	ErrTrailer       = &Error{400, "invalid trailer"}
	ErrBodyTruncated = &Error{400, "connection closed before the end of the body"}
)

// Response head errors, from ParseResponse. A proxy answers them with 502.
var (
	ErrStatusLine      = &Error{502, "upstream sent invalid status line"}
	ErrUpstreamHeader  = &Error{502, "upstream sent invalid header"}
	ErrUpstreamTooBig  = &Error{502, "upstream sent too big header"}
	ErrUpstreamFraming = &Error{502, "upstream sent invalid \"Content-Length\" or \"Transfer-Encoding\""}
)

// upstream maps a head error found while parsing a response to its
// response counterpart.
func upstream(err error) error {
	switch err {
	case nil, ErrIncomplete, ErrStatusLine:
		return err
	case ErrURITooLong, ErrFieldTooLarge, ErrHeaderTooLarge, ErrTooManyFields:
		return ErrUpstreamTooBig
	case ErrContentLength, ErrDuplicateLength, ErrLengthAndChunked,
		ErrDuplicateEncoding, ErrTransferEncoding:
		return ErrUpstreamFraming
	}
	return ErrUpstreamHeader
}
