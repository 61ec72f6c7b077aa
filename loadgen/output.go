package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/c10k/c10k/loadgen/result"
)

// FlushEvery is how often a run's --output stream is flushed: the open
// model's vegeta results reach the file in batches at least this often,
// and the closed model's in-progress summary is refreshed every
// 4×FlushEvery. A generator killed with SIGKILL leaves everything up to
// the last batch readable.
const FlushEvery = 250 * time.Millisecond

// output is a run's --output: for the open model, the vegeta results
// stream, written in batches under mu (whole records only, so a flush
// never splits one), with an in-progress summary beside it until the
// final one replaces it; for the other models, the summary file itself,
// an in-progress one until the end. Every summary write is atomic.
type output struct {
	path    string
	model   string
	started *result.Summary // what is known at the start, for the marker

	mu  sync.Mutex
	f   *os.File // open model: the results stream
	bw  *bufio.Writer
	err error // the first write error of a batch

	stop chan struct{}
	wg   sync.WaitGroup
}

// inProgressNote is the note of the summary a run leaves until it ends.
const inProgressNote = "cut short: the generator did not finish (killed, or still running)"

// openOutput creates the output files of a run whose summary so far is
// s: the marker summary (in progress) and, for the open model, the
// empty results stream.
func openOutput(path, model string, s *result.Summary) (*output, error) {
	o := &output{path: path, model: model, started: s, stop: make(chan struct{})}
	if model == result.ModelOpen {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("--output: %w", err)
		}
		o.f, o.bw = f, bufio.NewWriterSize(f, 1<<16)
	}
	if err := o.writeMarker(0, 0, 0); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

// summaryPath is where the run's summary goes.
func (o *output) summaryPath() string {
	if o.model == result.ModelOpen {
		return result.SidecarPath(o.path)
	}
	return o.path
}

// writeMarker writes the in-progress summary: requests and errors so
// far after elapsed, no latency figures.
func (o *output) writeMarker(requests, errs int64, elapsed time.Duration) error {
	m := *o.started
	m.StatusCodes, m.Errors = map[string]int64{}, map[string]int64{}
	m.Requests, m.DurationS = requests, elapsed.Seconds()
	if errs > 0 {
		m.Errors["other"] = errs
	}
	m.InProgress, m.Interrupted = true, true
	m.Valid, m.InvalidReason = false, "the run did not end: "+inProgressNote
	m.Note = inProgressNote
	if err := result.WriteFile(o.summaryPath(), &m); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// Write appends to the results stream; callers hold the lock (Lock).
func (o *output) Write(p []byte) (int, error) { return o.bw.Write(p) }

// Lock is taken around one whole record written with Write, so that a
// flush never splits it.
func (o *output) Lock() { o.mu.Lock() }

// Unlock ends the record Lock began.
func (o *output) Unlock() { o.mu.Unlock() }

// flush sends the complete records so far to the file.
func (o *output) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bw == nil {
		return nil
	}
	if err := o.bw.Flush(); err != nil && o.err == nil {
		o.err = err
	}
	return o.err
}

// start flushes the stream every FlushEvery, and refreshes the
// in-progress summary of a closed run from progress, until finish.
func (o *output) start(progress func() (int64, int64), began time.Time) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		tk := time.NewTicker(FlushEvery)
		defer tk.Stop()
		for n := 1; ; n++ {
			select {
			case <-o.stop:
				return
			case <-tk.C:
			}
			if o.model == result.ModelOpen {
				o.flush()
			} else if n%4 == 0 {
				req, errs := progress()
				o.writeMarker(req, errs, time.Since(began))
			}
		}
	}()
}

// finish stops the batches and writes the final summary s: the results
// stream is flushed and closed, then the summary replaces the marker.
func (o *output) finish(s *result.Summary) error {
	close(o.stop)
	o.wg.Wait()
	err := o.flush()
	if cerr := o.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if err := result.WriteFile(o.summaryPath(), s); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// close closes the results stream, if any.
func (o *output) close() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}
