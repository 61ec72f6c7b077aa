package result

import "time"

// TimelineBucket is the width of a timeline bucket.
const TimelineBucket = 250 * time.Millisecond

// MaxTimelineBuckets bounds a timeline: about four and a half hours of
// TimelineBucket steps. Requests finishing later are not counted in it,
// and Read refuses a longer timeline.
const MaxTimelineBuckets = 1 << 16

// TimeBucket counts the load requests that finished in one TimelineBucket
// of a run: OK the ones the summary counts as successes (a 2xx or 3xx
// answer), Errors the others (failed connections, timeouts, resets, 4xx
// and 5xx answers).
type TimeBucket struct {
	T      float64 `json:"t"` // the bucket's start, in seconds since the load started
	OK     int64   `json:"ok"`
	Errors int64   `json:"errors"`
}

// BucketStart is the T of bucket i.
func BucketStart(i int) float64 {
	return float64(i) * TimelineBucket.Seconds()
}

// AddToTimeline counts one request that finished elapsed after the load
// started into tl, growing it as needed, and returns it. A negative
// elapsed counts into the first bucket; beyond MaxTimelineBuckets the
// request is dropped.
func AddToTimeline(tl []TimeBucket, elapsed time.Duration, ok bool) []TimeBucket {
	i := 0
	if elapsed > 0 {
		i64 := int64(elapsed / TimelineBucket)
		if i64 >= MaxTimelineBuckets {
			return tl
		}
		i = int(i64)
	}
	for len(tl) <= i {
		tl = append(tl, TimeBucket{T: BucketStart(len(tl))})
	}
	if ok {
		tl[i].OK++
	} else {
		tl[i].Errors++
	}
	return tl
}

// MergeTimeline adds src into dst bucket by bucket (by index: shards'
// buckets count from their own load start) and returns dst, grown as
// needed. src is not modified; buckets beyond MaxTimelineBuckets are
// dropped.
func MergeTimeline(dst, src []TimeBucket) []TimeBucket {
	n := min(len(src), MaxTimelineBuckets)
	for len(dst) < n {
		dst = append(dst, TimeBucket{T: BucketStart(len(dst))})
	}
	for i := range n {
		dst[i].OK += src[i].OK
		dst[i].Errors += src[i].Errors
	}
	return dst
}
