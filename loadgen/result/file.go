package result

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/c10k/c10k/internal/atomicfile"
)

// Magic is the first line of a summary file; the digit is the format
// version.
const Magic = "c10k-result v1\n"

// Version is the summary file format Write produces.
const Version = 1

// ErrFormat wraps every error about a file that is not a readable result:
// foreign, truncated or corrupt.
var ErrFormat = errors.New("not a c10k or vegeta result file")

// SidecarPath is where the summary of the vegeta results file path lives.
func SidecarPath(path string) string { return path + ".c10k" }

// fileForm is the JSON body of a summary file.
type fileForm struct {
	Version int `json:"version"`
	*Summary
	Histograms map[string]string `json:"histograms,omitempty"`
	PerConn    []int64           `json:"per_connection,omitempty"`
}

// Write writes s in the summary file format: Magic, then JSON.
func Write(w io.Writer, s *Summary) error {
	f := fileForm{Version: Version, Summary: s, PerConn: s.PerConn, Histograms: map[string]string{}}
	for name, h := range s.Hist.named() {
		if h == nil {
			continue
		}
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("result: encode %s histogram: %w", name, err)
		}
		f.Histograms[name] = string(b)
	}
	if _, err := io.WriteString(w, Magic); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	return enc.Encode(f)
}

// WriteFile writes s to path in the summary file format, atomically: a
// reader sees the previous file or this one, whole.
func WriteFile(path string, s *Summary) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(w, s) })
}

func (h *Histograms) named() map[string]*hdrhistogram.Histogram {
	return map[string]*hdrhistogram.Histogram{"latency": h.Latency, "service": h.Service, "lag": h.Lag, "probe": h.Probe, "handshake": h.Handshake}
}

func (h *Histograms) set(name string, v *hdrhistogram.Histogram) bool {
	switch name {
	case "latency":
		h.Latency = v
	case "service":
		h.Service = v
	case "lag":
		h.Lag = v
	case "probe":
		h.Probe = v
	case "handshake":
		h.Handshake = v
	default:
		return false
	}
	return true
}

// maxFile bounds what Read accepts from one summary.
const maxFile = 1 << 30

// Read reads one result: a summary file, or vegeta results (gob, JSON or
// CSV) from which it rebuilds a summary. A foreign, truncated or corrupt
// input gives an error wrapping ErrFormat.
func Read(r io.Reader) (*Summary, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(Magic))
	if bytes.Equal(head, []byte(Magic)) {
		br.Discard(len(Magic))
		return readSummary(io.LimitReader(br, maxFile))
	}
	if bytes.HasPrefix([]byte(Magic), head) && len(head) > 0 && len(head) >= len("c10k-result") {
		return nil, fmt.Errorf("%w: truncated c10k header", ErrFormat)
	}
	if bytes.HasPrefix(head, []byte("c10k-result v")) {
		return nil, fmt.Errorf("%w: unsupported c10k result version %q (this build reads v%d)", ErrFormat, bytes.TrimSpace(head), Version)
	}
	return FromVegeta(br)
}

func readSummary(r io.Reader) (*Summary, error) {
	var f fileForm
	f.Summary = new(Summary)
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated summary", ErrFormat)
		}
		return nil, fmt.Errorf("%w: corrupt summary: %v", ErrFormat, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("%w: summary version %d (this build reads %d)", ErrFormat, f.Version, Version)
	}
	s := f.Summary
	s.PerConn = f.PerConn
	for name, enc := range f.Histograms {
		h, err := decodeHist(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s histogram: %v", ErrFormat, name, err)
		}
		if !s.Hist.set(name, h) {
			return nil, fmt.Errorf("%w: unknown histogram %q", ErrFormat, name)
		}
	}
	if len(s.Timeline) > MaxTimelineBuckets {
		return nil, fmt.Errorf("%w: timeline of %d buckets, more than %d", ErrFormat, len(s.Timeline), MaxTimelineBuckets)
	}
	if s.StatusCodes == nil {
		s.StatusCodes = map[string]int64{}
	}
	if s.Errors == nil {
		s.Errors = map[string]int64{}
	}
	return s, nil
}

// decodeHist decodes a histogram and re-records it into the standard
// geometry, so a file cannot smuggle in a histogram that merges badly.
func decodeHist(enc string) (h *hdrhistogram.Histogram, err error) {
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("corrupt histogram: %v", r)
		}
	}()
	d, err := hdrhistogram.Decode([]byte(enc))
	if err != nil {
		return nil, err
	}
	h = NewHistogram()
	for _, b := range d.Distribution() {
		if b.Count > 0 {
			h.RecordValues(min(max(b.From, HistMin), HistMax), b.Count)
		}
	}
	return h, nil
}

// FromVegeta rebuilds a summary from vegeta results (gob, JSON or CSV).
// Latency is vegeta's: results c10k wrote carry the latency from the
// intended start; the service time and schedule lag are in the sidecar
// only. A stream whose last record is torn (a generator killed between
// two batches) gives the summary of the whole records before it, marked
// Interrupted with a note saying so.
func FromVegeta(r io.Reader) (s *Summary, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("%w: decoder failed: %v", ErrFormat, p)
		}
	}()
	tail := &tailReader{r: r}
	dec := vegeta.DecoderFor(tail)
	if dec == nil {
		return nil, fmt.Errorf("%w: neither a c10k summary nor vegeta results (gob, json, csv)", ErrFormat)
	}
	s = &Summary{Model: ModelOpen, StatusCodes: map[string]int64{}, Errors: map[string]int64{}}
	s.Hist.Latency = NewHistogram()
	var first, last time.Time
	var res vegeta.Result
	var torn error // what ended the stream before its end
	for {
		res = vegeta.Result{}
		if err := decode(dec, &res); err != nil {
			if errors.Is(err, io.EOF) {
				// vegeta's JSON and CSV decoders drop a last line
				// without its newline as if the stream had ended.
				if tail.n > 0 && tail.last != '\n' && (tail.first == '{' || tail.first >= '0' && tail.first <= '9') && s.Requests > 0 {
					torn = errors.New("last line without its newline")
				}
				break
			}
			if s.Requests == 0 {
				return nil, fmt.Errorf("%w: vegeta results after %d records: truncated or corrupt: %v", ErrFormat, s.Requests, err)
			}
			torn = err
			break
		}
		if s.Requests == 0 {
			s.URL, s.Method, s.Started = res.URL, res.Method, res.Timestamp
		}
		s.Requests++
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if res.Timestamp.After(last) {
			last = res.Timestamp
		}
		Record(s.Hist.Latency, res.Latency)
		if res.Code != 0 {
			s.StatusCodes[strconv.Itoa(int(res.Code))]++
		}
		if res.Error != "" {
			kind := "other"
			if res.Code != 0 {
				kind = "status"
			}
			s.Errors[kind]++
			if s.FirstError == "" {
				s.FirstError = res.Error
			}
		}
		s.BytesIn += int64(res.BytesIn)
		s.BytesOut += int64(res.BytesOut)
	}
	if s.Requests == 0 {
		return nil, fmt.Errorf("%w: no results", ErrFormat)
	}
	if d := last.Sub(first).Seconds(); d > 0 {
		s.DurationS = d
		s.RateAchieved = float64(s.Requests-1) / d
	}
	s.Valid = true
	s.Note = "rebuilt from vegeta results: no service time, schedule lag or generator figures"
	if torn != nil {
		s.Interrupted, s.Valid = true, false
		s.InvalidReason = fmt.Sprintf("cut short: the results end in a torn record after %d whole ones (%v)", s.Requests, torn)
		s.Note = "cut short: " + s.Note
	}
	s.Finish()
	return s, nil
}

// tailReader remembers the first and the last byte read through it.
type tailReader struct {
	r           io.Reader
	n           int64
	first, last byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		if t.n == 0 {
			t.first = p[0]
		}
		t.last = p[n-1]
		t.n += int64(n)
	}
	return n, err
}

// decode decodes one record, turning a decoder panic on a torn record
// into an error.
func decode(dec vegeta.Decoder, res *vegeta.Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return dec.Decode(res)
}

// ReadFile reads the result at path: the sidecar summary of a vegeta
// results file when there is one, else the file itself. A run that was
// killed left an in-progress summary (InProgress): the vegeta results
// up to its last flushed batch are then rebuilt into a summary marked
// Interrupted, whose InvalidReason says what is missing.
func ReadFile(path string) (*Summary, error) {
	name := path
	if _, err := os.Stat(SidecarPath(path)); err == nil {
		name = SidecarPath(path)
	}
	s, err := readOne(name)
	if err != nil || !s.InProgress {
		return s, err
	}
	if name == path { // a closed-model summary: counts only
		s.InvalidReason = fmt.Sprintf("cut short: the generator was killed after %d requests in %.1fs, before it wrote its summary; no latency, status or connection figures", s.Requests, s.DurationS)
		return s, nil
	}
	v, err := readOne(path)
	if err != nil {
		// Killed before the first batch reached the file.
		s.InvalidReason = "cut short: the generator was killed before any result reached " + path
		return s, nil
	}
	v.Model, v.URL, v.Method, v.Started = s.Model, s.URL, s.Method, s.Started
	v.Shards, v.Generator.Shard, v.Sources, v.Limits = s.Shards, s.Generator.Shard, s.Sources, s.Limits
	v.Interrupted, v.Valid, v.InProgress = true, false, true
	why := "up to the last flushed batch"
	if v.InvalidReason != "" {
		why = strings.TrimPrefix(v.InvalidReason, "cut short: ")
	}
	v.InvalidReason = fmt.Sprintf("cut short: the generator was killed before it wrote its summary; %d results rebuilt from %s (%s); no service time, schedule lag, rate target or generator figures", v.Requests, path, why)
	return v, nil
}

func readOne(name string) (*Summary, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}
