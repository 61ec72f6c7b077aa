package result

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAddToTimeline(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   []time.Duration // finish times; odd indexes are errors
		want []TimeBucket
	}{
		{"none", nil, nil},
		{"first bucket", []time.Duration{0, 249 * time.Millisecond}, []TimeBucket{{0, 1, 1}}},
		{"before the start", []time.Duration{-time.Second}, []TimeBucket{{0, 1, 0}}},
		{"gaps filled", []time.Duration{time.Second, 250 * time.Millisecond}, []TimeBucket{{0, 0, 0}, {0.25, 0, 1}, {0.5, 0, 0}, {0.75, 0, 0}, {1, 1, 0}}},
		{"beyond the cap dropped", []time.Duration{MaxTimelineBuckets * TimelineBucket, time.Duration(1 << 62)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl []TimeBucket
			for i, d := range tc.at {
				tl = AddToTimeline(tl, d, i%2 == 0)
			}
			if !reflect.DeepEqual(tl, tc.want) {
				t.Errorf("timeline %+v, want %+v", tl, tc.want)
			}
		})
	}
}

func TestTimelineCap(t *testing.T) {
	tl := AddToTimeline(nil, MaxTimelineBuckets*TimelineBucket-1, true)
	if len(tl) != MaxTimelineBuckets || tl[len(tl)-1].OK != 1 || tl[len(tl)-1].T != BucketStart(MaxTimelineBuckets-1) {
		t.Fatalf("%d buckets, last %+v; want %d, the last with one success", len(tl), tl[len(tl)-1], MaxTimelineBuckets)
	}
	long := make([]TimeBucket, MaxTimelineBuckets+5)
	if m := MergeTimeline(nil, long); len(m) != MaxTimelineBuckets {
		t.Errorf("merged %d buckets, want the cap %d", len(m), MaxTimelineBuckets)
	}
}

func TestMergeTimeline(t *testing.T) {
	a := []TimeBucket{{0, 1, 2}}
	b := []TimeBucket{{0, 10, 0}, {0.25, 3, 4}}
	m := MergeTimeline(MergeTimeline(nil, a), b)
	if want := []TimeBucket{{0, 11, 2}, {0.25, 3, 4}}; !reflect.DeepEqual(m, want) {
		t.Errorf("merged %+v, want %+v", m, want)
	}
	if a[0].OK != 1 || b[0].OK != 10 {
		t.Errorf("inputs changed: %+v %+v", a, b)
	}
}

// timelined is a sample with a timeline and slow readers whose counts
// match its requests: ok successes then errs errors, a bucket each.
func timelined(shard string, ok, errs int64) *Summary {
	s := sample(shard, time.Millisecond)
	s.Requests = ok + errs
	s.StatusCodes = map[string]int64{"200": ok, "500": errs}
	s.Errors = map[string]int64{"status": errs}
	s.Timeline = []TimeBucket{{0, ok, 0}, {0.25, 0, errs}}
	s.Slow = &SlowStats{Readers: 2, Responses: 3, Errors: 1, Bytes: 4096}
	s.Finish()
	return s
}

func TestTimelineFile(t *testing.T) {
	s := timelined("0/2", 5, 7)
	var b bytes.Buffer
	if err := Write(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"timeline":[{"t":0,"ok":5,"errors":0},{"t":0.25,"ok":0,"errors":7}]`) ||
		!strings.Contains(b.String(), `"slow":{"readers":2,"responses":3,"errors":1,"bytes":4096}`) {
		t.Errorf("file form lacks the timeline or slow readers:\n%s", b.String())
	}
	got, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Timeline, s.Timeline) || !reflect.DeepEqual(got.Slow, s.Slow) {
		t.Errorf("read back timeline %+v slow %+v, want %+v %+v", got.Timeline, got.Slow, s.Timeline, s.Slow)
	}

	m, err := Merge(s, timelined("1/2", 1, 0), sample("x", time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if want := []TimeBucket{{0, 6, 0}, {0.25, 0, 7}}; !reflect.DeepEqual(m.Timeline, want) {
		t.Errorf("merged timeline %+v, want %+v", m.Timeline, want)
	}
	if want := (SlowStats{Readers: 4, Responses: 6, Errors: 2, Bytes: 8192}); m.Slow == nil || *m.Slow != want {
		t.Errorf("merged slow readers %+v, want %+v", m.Slow, want)
	}
	if s.Timeline[0].OK != 5 || s.Slow.Readers != 2 {
		t.Error("Merge changed its input")
	}
	var txt bytes.Buffer
	if err := WriteText(&txt, m); err != nil || !strings.Contains(txt.String(), "slow readers") {
		t.Errorf("text %q %v: want a slow readers line", txt.String(), err)
	}

	// Without a timeline or slow readers the file form has neither.
	b.Reset()
	if err := Write(&b, sample("0/1", time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "timeline") || strings.Contains(b.String(), "slow") {
		t.Errorf("empty timeline or slow readers written: %s", b.String())
	}
}

func TestReadLongTimeline(t *testing.T) {
	var b strings.Builder
	b.WriteString(Magic + `{"version":1,"model":"open","timeline":[`)
	for i := range MaxTimelineBuckets + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"t":%g,"ok":1,"errors":0}`, BucketStart(i))
	}
	b.WriteString("]}\n")
	if _, err := Read(strings.NewReader(b.String())); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "timeline") {
		t.Errorf("a timeline beyond the cap: %v, want ErrFormat naming the timeline", err)
	}
}
