// Package atomicfile writes whole files so that a reader, or a run cut
// short by a signal or a crash, sees the old content or the new one,
// never half of one: a temporary file in the same directory, synced,
// then renamed over the target, and the directory synced.
package atomicfile
