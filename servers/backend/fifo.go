package backend

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
)

// A fifo is a counting semaphore that grants slots in arrival order,
// as a gunicorn arbiter hands connections to free sync workers.
type fifo struct {
	mu      sync.Mutex
	free    int
	waiters list.List // of chan struct{}, oldest first
}

func newFIFO(n int) *fifo { return &fifo{free: n} }

// acquire waits for a slot until ctx is done. While it waits, queued
// counts it; the count is raised under the same lock that orders waiters.
func (q *fifo) acquire(ctx context.Context, queued *atomic.Int64) error {
	q.mu.Lock()
	if q.free > 0 && q.waiters.Len() == 0 {
		q.free--
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	e := q.waiters.PushBack(ch)
	queued.Add(1)
	q.mu.Unlock()
	defer queued.Add(-1)

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		select {
		case <-ch: // granted meanwhile: pass it on
			q.mu.Unlock()
			q.release()
		default:
			q.waiters.Remove(e)
			q.mu.Unlock()
		}
		return ctx.Err()
	}
}

// release frees a slot, handing it to the oldest waiter if any.
func (q *fifo) release() {
	q.mu.Lock()
	if e := q.waiters.Front(); e != nil {
		q.waiters.Remove(e)
		close(e.Value.(chan struct{}))
	} else {
		q.free++
	}
	q.mu.Unlock()
}
