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
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
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

// WriteFile writes s to path in the summary file format.
func WriteFile(path string, s *Summary) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := Write(bw, s); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
// only.
func FromVegeta(r io.Reader) (s *Summary, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("%w: decoder failed: %v", ErrFormat, p)
		}
	}()
	dec := vegeta.DecoderFor(r)
	if dec == nil {
		return nil, fmt.Errorf("%w: neither a c10k summary nor vegeta results (gob, json, csv)", ErrFormat)
	}
	s = &Summary{Model: ModelOpen, StatusCodes: map[string]int64{}, Errors: map[string]int64{}}
	s.Hist.Latency = NewHistogram()
	var first, last time.Time
	var res vegeta.Result
	for {
		res = vegeta.Result{}
		if err := dec.Decode(&res); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w: vegeta results after %d records: truncated or corrupt: %v", ErrFormat, s.Requests, err)
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
	s.Finish()
	return s, nil
}

// ReadFile reads the result at path: the sidecar summary of a vegeta
// results file when there is one, else the file itself.
func ReadFile(path string) (*Summary, error) {
	name := path
	if _, err := os.Stat(SidecarPath(path)); err == nil {
		name = SidecarPath(path)
	}
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
