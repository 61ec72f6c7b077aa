package backend

import (
	"crypto/sha256"
	"io"
	"time"
)

// patternAlphabet has 64 bytes; byte i of every body is patternAlphabet[i%64].
const patternAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// pattern is a whole number of alphabet periods, so chunks of it continue
// the pattern.
var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = patternAlphabet[i%len(patternAlphabet)]
	}
	return b
}()

// writePattern writes n bytes of the body pattern to w.
func writePattern(w io.Writer, n int64) error {
	for n > 0 {
		chunk := pattern[:min(n, int64(len(pattern)))]
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		n -= int64(len(chunk))
	}
	return nil
}

// burnChunk is how much is hashed between two looks at the clock.
const burnChunk = 4 << 10

// burnWall hashes until d of wall-clock time has passed.
func burnWall(d time.Duration) {
	h := sha256.New()
	for start := time.Now(); time.Since(start) < d; {
		h.Write(pattern[:burnChunk])
	}
	h.Sum(nil)
}
