package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
)

// timelineCounts checks the buckets' T and returns their sums.
func timelineCounts(t *testing.T, tl []result.TimeBucket) (ok, errs int64) {
	t.Helper()
	for i, b := range tl {
		if b.T != result.BucketStart(i) {
			t.Errorf("bucket %d starts at %gs, want %gs", i, b.T, result.BucketStart(i))
		}
		ok += b.OK
		errs += b.Errors
	}
	return ok, errs
}

// successes counts the 2xx and 3xx answers of s.
func successes(s *result.Summary) int64 {
	var n int64
	for code, k := range s.StatusCodes {
		if c, _ := strconv.Atoi(code); c >= 200 && c < 400 {
			n += k
		}
	}
	return n
}

// loadOptions is a bounded run of either model against url.
func loadOptions(model, url string, requests int64) Options {
	o := Options{Request: Request{URL: url}, Connections: 4, Timeout: 5 * time.Second}
	if model == result.ModelOpen {
		// requests at 1000/s: the count is exact, the time is not asserted.
		o.Rate, o.Duration = 1000, time.Duration(requests)*time.Millisecond
	} else {
		o.Requests = requests
	}
	return o
}

// TestTimeline checks that both engines count every finished request
// into the timeline, successes apart from errors.
func TestTimeline(t *testing.T) {
	base := testServer(t, testHandler())
	for _, model := range []string{result.ModelClosed, result.ModelOpen} {
		for _, path := range []string{"/fixed", "/missing", "/reset", "/close"} {
			t.Run(model+path, func(t *testing.T) {
				s, err := Run(context.Background(), loadOptions(model, base+path, 200))
				if err != nil {
					t.Fatal(err)
				}
				if s.Model != model || s.Requests != 200 {
					t.Fatalf("model %s, %d requests; want %s, 200", s.Model, s.Requests, model)
				}
				ok, errs := timelineCounts(t, s.Timeline)
				if ok+errs != s.Requests || ok != successes(s) {
					t.Errorf("timeline %d ok + %d errors; want %d requests of which %d ok (codes %v, errors %v)",
						ok, errs, s.Requests, successes(s), s.StatusCodes, s.Errors)
				}
			})
		}
	}
}

// TestTimelineServerFails runs both engines against a server that
// answers 200 to its first requests and 500 after: the timeline holds
// exactly that many successes and errors.
func TestTimelineServerFails(t *testing.T) {
	const good, total = 100, 300
	for _, model := range []string{result.ModelClosed, result.ModelOpen} {
		t.Run(model, func(t *testing.T) {
			var n atomic.Int64
			base := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) > good {
					http.Error(w, "failing now", http.StatusInternalServerError)
					return
				}
				w.Write([]byte("ok"))
			}))
			s, err := Run(context.Background(), loadOptions(model, base+"/", total))
			if err != nil {
				t.Fatal(err)
			}
			ok, errs := timelineCounts(t, s.Timeline)
			if s.Requests != total || ok != good || errs != total-good {
				t.Errorf("%d requests, timeline %d ok and %d errors; want %d, %d and %d (codes %v)",
					s.Requests, ok, errs, total, good, total-good, s.StatusCodes)
			}
			// The file form keeps the timeline.
			path := t.TempDir() + "/r.c10k"
			if err := result.WriteFile(path, s); err != nil {
				t.Fatal(err)
			}
			back, err := result.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(back.Timeline) != fmt.Sprint(s.Timeline) {
				t.Errorf("read back timeline %v, want %v", back.Timeline, s.Timeline)
			}
		})
	}
}

// TestTimelineShards merges the summaries of two shards that ran at the
// same time: the timelines add up.
func TestTimelineShards(t *testing.T) {
	base := testServer(t, testHandler())
	var parts []*result.Summary
	for i := range 2 {
		o := loadOptions(result.ModelClosed, base+"/fixed", 100)
		o.Shard = Shard{i, 2}
		s, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s)
	}
	m, err := result.Merge(parts...)
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := timelineCounts(t, m.Timeline); m.Requests != 100 || ok != 100 || errs != 0 {
		t.Errorf("merged %d requests, timeline %d ok %d errors; want 100, 100, 0", m.Requests, ok, errs)
	}
}
