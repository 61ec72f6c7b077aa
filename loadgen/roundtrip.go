package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// roundTrip writes req on c and reads the whole response, within
// deadline. It returns the status code.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte, deadline time.Time) (int, error) {
	c.SetDeadline(deadline)
	if _, err := c.Write(req); err != nil {
		return 0, fmt.Errorf("write request: %w", timeoutErr(err))
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, fmt.Errorf("read response: %w", timeoutErr(err))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read response body: %w", timeoutErr(err))
	}
	return resp.StatusCode, nil
}

// timeoutErr makes deadline errors match ErrTimeout.
func timeoutErr(err error) error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

// schedule calls launch(i, intended) for i in [0, n) at start + i/rate,
// or until ctx ends; it returns how many it launched. A late loop does
// not skip or delay the schedule: each launch keeps its intended time.
func schedule(ctx context.Context, n int, rate float64, launch func(i int, intended time.Time)) int {
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := 0; i < n; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return i
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return i
		}
		launch(i, intended)
	}
	return n
}
