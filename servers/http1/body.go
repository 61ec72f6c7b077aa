package http1

// Bounds on chunked framing that carries no data.
const (
	maxChunkLine = 4096 // chunk size with its extensions
	maxTrailer   = 8192 // all trailer fields together
)

// Body framing modes.
const (
	modeNone = iota
	modeLength
	modeChunked
	modeClose
)

// Chunked decoder states.
const (
	chSize         = iota // hex digits of the chunk size
	chSizeWS              // whitespace after the size
	chExt                 // a chunk extension, up to CR
	chSizeLF              // LF ending the chunk size line
	chData                // chunk data
	chDataCR              // CR after chunk data
	chDataLF              // LF after chunk data
	chTrailerStart        // start of a trailer field line, or the final CRLF
	chTrailerName         // trailer field name
	chTrailerValue        // trailer field value, up to CR
	chTrailerLF           // LF ending a trailer field line
	chEndLF               // LF of the final CRLF
)

// Body decodes a message body framed by Content-Length, chunked transfer
// coding, or the end of the connection. It holds no buffer: Decode
// consumes framing bytes as they come and hands out data aliasing its
// input. The zero value is a body that is already done; call Init first.
//
// Chunked framing is strict: every line ends with CRLF (a bare LF is
// refused here, unlike in heads), sizes have at most 16 hex digits,
// extensions are ignored but bounded, trailers are checked and dropped.
type Body struct {
	left    int64 // bytes left in the body (modeLength) or in the chunk
	read    int64 // data bytes decoded so far
	line    int   // bytes in the current chunk size line
	trailer int   // trailer bytes so far
	digits  uint8
	state   uint8
	mode    uint8
	done    bool
}

// Init sets b up for a new body. chunked takes precedence over untilClose,
// which takes precedence over contentLength; a contentLength of 0 or less
// with neither means no body.
func (b *Body) Init(contentLength int64, chunked bool, untilClose bool) {
	*b = Body{}
	switch {
	case chunked:
		b.mode = modeChunked
	case untilClose:
		b.mode = modeClose
	case contentLength > 0:
		b.mode, b.left = modeLength, contentLength
	default:
		b.done = true
	}
}

// Done reports whether the body has ended: all Content-Length bytes, or
// the last chunk and the trailers, have been decoded. A body that runs
// until close is done only once EOF was reported.
func (b *Body) Done() bool { return b.done }

// Read returns how many body data bytes have been decoded.
func (b *Body) Read() int64 { return b.read }

// Remaining returns how many bytes of a Content-Length body are still to
// come, or -1 when the body is chunked or runs until close.
func (b *Body) Remaining() int64 {
	switch b.mode {
	case modeChunked, modeClose:
		return -1
	}
	return b.left
}

// Pending returns how many data bytes the framing has announced but
// Decode has not handed out yet: the rest of a Content-Length body, or of
// the current chunk once its size line is read. A core checks Read() +
// Pending() against client_max_body_size, so that a chunk size over the
// limit is refused (413) as soon as it is read, as nginx does, instead of
// after the client sent that much.
func (b *Body) Pending() int64 {
	switch {
	case b.done:
		return 0
	case b.mode == modeLength:
		return b.left
	case b.mode == modeChunked && (b.state == chData || b.state == chSizeLF):
		return b.left
	}
	return 0
}

// EOF tells b the connection ended. It returns nil when that ends the body
// (a body until close, or one already done) and ErrBodyTruncated otherwise.
func (b *Body) EOF() error {
	if b.done {
		return nil
	}
	if b.mode == modeClose {
		b.done = true
		return nil
	}
	return ErrBodyTruncated
}

// Decode consumes bytes from the start of src and returns the next piece
// of body data, aliasing src, and how many bytes of src it consumed
// (framing included). data may be empty while n > 0: framing was consumed
// and more input is needed. Call it until Done, feeding src[n:] and then
// further input; once Done, src[n:] belongs to the next message.
func (b *Body) Decode(src []byte) (data []byte, n int, err error) {
	if b.done || len(src) == 0 {
		return nil, 0, nil
	}
	switch b.mode {
	case modeLength:
		k := int(min(int64(len(src)), b.left))
		b.left -= int64(k)
		b.read += int64(k)
		b.done = b.left == 0
		return src[:k], k, nil
	case modeClose:
		b.read += int64(len(src))
		return src, len(src), nil
	}
	return b.chunked(src)
}

func (b *Body) chunked(src []byte) ([]byte, int, error) {
	i := 0
	for i < len(src) {
		c := src[i]
		switch b.state {
		case chSize:
			if h := unhex(c); h >= 0 {
				if b.digits == 16 || b.left > (1<<63-1)>>4 {
					return nil, i, ErrChunkSize
				}
				b.left = b.left<<4 | int64(h)
				b.digits++
				break
			}
			if b.digits == 0 {
				return nil, i, ErrChunkSize
			}
			switch c {
			case '\r':
				b.state = chSizeLF
			case ';':
				b.state = chExt
			case ' ', '\t':
				b.state = chSizeWS
			default:
				return nil, i, ErrChunkSize
			}
		case chSizeWS:
			switch c {
			case ' ', '\t':
			case ';':
				b.state = chExt
			case '\r':
				b.state = chSizeLF
			default:
				return nil, i, ErrChunkSize
			}
		case chExt:
			if c == '\r' {
				b.state = chSizeLF
			} else if !valueTable[c] {
				return nil, i, ErrChunk
			}
		case chSizeLF:
			if c != '\n' {
				return nil, i, ErrChunk
			}
			b.line, b.digits = 0, 0
			if b.left == 0 {
				b.state = chTrailerStart
			} else {
				b.state = chData
			}
			i++
			continue
		case chData:
			k := int(min(int64(len(src)-i), b.left))
			data := src[i : i+k]
			b.left -= int64(k)
			b.read += int64(k)
			if b.left == 0 {
				b.state = chDataCR
			}
			return data, i + k, nil
		case chDataCR:
			if c != '\r' {
				return nil, i, ErrChunk
			}
			b.state = chDataLF
			i++
			continue
		case chDataLF:
			if c != '\n' {
				return nil, i, ErrChunk
			}
			b.state = chSize
			i++
			continue
		case chTrailerStart:
			switch {
			case c == '\r':
				b.state = chEndLF
			case tokenTable[c]:
				b.state = chTrailerName
			default:
				return nil, i, ErrTrailer
			}
		case chTrailerName:
			if c == ':' {
				b.state = chTrailerValue
			} else if !tokenTable[c] {
				return nil, i, ErrTrailer
			}
		case chTrailerValue:
			if c == '\r' {
				b.state = chTrailerLF
			} else if !valueTable[c] {
				return nil, i, ErrTrailer
			}
		case chTrailerLF:
			if c != '\n' {
				return nil, i, ErrTrailer
			}
			b.state = chTrailerStart
		case chEndLF:
			if c != '\n' {
				return nil, i, ErrTrailer
			}
			b.done = true
			return nil, i + 1, nil
		}
		i++
		if b.state >= chTrailerStart {
			if b.trailer++; b.trailer > maxTrailer {
				return nil, i, ErrTrailer
			}
		} else if b.line++; b.line > maxChunkLine {
			return nil, i, ErrChunk
		}
	}
	return nil, i, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
