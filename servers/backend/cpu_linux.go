package backend

import (
	"crypto/sha256"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// burn spends d of this thread's CPU time hashing, so that a request
// costs d of CPU however busy the machine is. The goroutine stays on one
// thread meanwhile, for the thread's clock to be the right one.
func burn(d time.Duration) {
	if d <= 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	if !ok {
		burnWall(d)
		return
	}
	h := sha256.New()
	for {
		h.Write(pattern[:burnChunk])
		now, _ := threadCPU()
		if now-start >= d {
			break
		}
	}
	h.Sum(nil)
}

func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
