package backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Echo is the JSON body answered when the response size is 0: what the
// backend received, so that tests can check what a proxy forwarded.
type Echo struct {
	Backend          string      `json:"backend"`
	Method           string      `json:"method"`
	URI              string      `json:"uri"` // the raw request-target
	Proto            string      `json:"proto"`
	Host             string      `json:"host"`
	Headers          http.Header `json:"headers"`                     // canonical names; Host and Transfer-Encoding are fields of their own
	ContentLength    int64       `json:"content_length"`              // -1 when the body was not length-delimited
	TransferEncoding []string    `json:"transfer_encoding,omitempty"` // such as ["chunked"]
	BodyLength       int64       `json:"body_length"`                 // bytes read after de-chunking
	BodySHA256       string      `json:"body_sha256"`                 // hex
	RemoteAddr       string      `json:"remote_addr"`
}

// params are the per-request settings: Options overridden by the query.
type params struct {
	latency time.Duration
	cpu     time.Duration
	size    int64
	status  int // 0: 200, or 500 by ErrorRate
	close   bool
	partial bool
	stall   bool
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend", s.opts.Name)
	switch r.URL.Path {
	case "/health":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
		return
	case "/stats":
		writeJSON(w, http.StatusOK, s.Stats())
		return
	}

	draw := s.draw()
	p, err := s.params(r, draw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	if s.slots != nil {
		if s.slots.acquire(r.Context(), &s.queued) != nil {
			return // the client went away while queued
		}
		defer s.slots.release()
	}
	n := s.inFlight.Add(1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	defer func() {
		s.inFlight.Add(-1)
		s.served.Add(1)
	}()

	body := r.Body
	if body == nil { // a Request made by a test, not by the server
		body = http.NoBody
	}
	length, sum, err := readBody(body)
	if err != nil {
		return // the client went away mid-body
	}
	if s.hook != nil {
		s.hook(r)
	}
	if p.stall {
		stop, _ := r.Context().Value(stopKey{}).(<-chan struct{})
		select {
		case <-r.Context().Done():
		case <-stop:
			hangUp(w)
		}
		return
	}
	if !sleep(r.Context(), p.latency) {
		return
	}
	burn(p.cpu)
	if p.close {
		hangUp(w)
		return
	}

	status := p.status
	if status == 0 {
		status = http.StatusOK
		if s.opts.ErrorRate > 0 && unit(draw>>32) < s.opts.ErrorRate {
			s.errors.Add(1)
			http.Error(w, "backend "+s.opts.Name+": injected error", http.StatusInternalServerError)
			return
		}
	}

	var echo []byte
	if p.size == 0 {
		echo = marshal(Echo{
			Backend:          s.opts.Name,
			Method:           r.Method,
			URI:              r.RequestURI,
			Proto:            r.Proto,
			Host:             r.Host,
			Headers:          r.Header,
			ContentLength:    r.ContentLength,
			TransferEncoding: r.TransferEncoding,
			BodyLength:       length,
			BodySHA256:       hex.EncodeToString(sum),
			RemoteAddr:       r.RemoteAddr,
		})
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	size := p.size
	if size == 0 {
		size = int64(len(echo))
	}
	if !bodyAllowed(status) {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(status)
	if p.partial {
		size /= 2
		if echo != nil {
			echo = echo[:size]
		}
	}
	if echo != nil {
		w.Write(echo)
	} else if writePattern(w, size) != nil {
		return
	}
	if p.partial {
		http.NewResponseController(w).Flush()
		hangUp(w)
	}
}

// params reads the query overrides of r over the server's options.
func (s *Server) params(r *http.Request, draw uint64) (params, error) {
	p := params{latency: s.opts.Latency, cpu: s.opts.CPU, size: s.opts.Size}
	if j := s.opts.Jitter; j > 0 {
		p.latency += time.Duration((2*unit(draw&0xffffffff) - 1) * float64(j))
		p.latency = max(p.latency, 0)
	}
	if r.URL.RawQuery == "" {
		return p, nil
	}
	q := r.URL.Query()
	var err error
	if v := q.Get("latency"); v != "" {
		if p.latency, err = duration("latency", v); err != nil {
			return p, err
		}
	}
	if v := q.Get("cpu"); v != "" {
		if p.cpu, err = duration("cpu", v); err != nil {
			return p, err
		}
	}
	if v := q.Get("size"); v != "" {
		if p.size, err = strconv.ParseInt(v, 10, 64); err != nil || p.size < 0 {
			return p, &paramError{"size", v, "want a byte count"}
		}
	}
	if v := q.Get("status"); v != "" {
		if p.status, err = strconv.Atoi(v); err != nil || p.status < 200 || p.status > 599 {
			return p, &paramError{"status", v, "want 200 to 599"}
		}
	}
	p.close = q.Get("close") == "1"
	p.partial = q.Get("partial") == "1"
	p.stall = q.Get("stall") == "1"
	return p, nil
}

// A paramError reports a bad query override; it is answered with 400.
type paramError struct{ name, value, reason string }

func (e *paramError) Error() string {
	return "backend: bad query parameter " + e.name + "=" + e.value + ": " + e.reason
}

func duration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &paramError{name, v, "want a non-negative duration such as 50ms"}
	}
	return d, nil
}

// unit maps 32 random bits to [0, 1).
func unit(bits uint64) float64 { return float64(bits&0xffffffff) / (1 << 32) }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readBody reads all of body and returns its length and SHA-256.
func readBody(body io.Reader) (int64, []byte, error) {
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(h, body, *buf)
	copyBufs.Put(buf)
	return n, h.Sum(nil), err
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hangUp closes the connection under w without (any more of) a response.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// marshal encodes v as JSON without escaping <, > and & (URIs stay readable).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // cannot fail on Echo and Stats
	return b.Bytes()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b := marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
