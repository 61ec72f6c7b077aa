//go:build !linux

package backend

import "time"

// burn spends d hashing; off Linux it counts wall-clock time.
func burn(d time.Duration) { burnWall(d) }
