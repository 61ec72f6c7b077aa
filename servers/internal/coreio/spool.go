package coreio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SpoolMemory is how much of a request body a Spool keeps in memory:
// nginx's client_body_buffer_size, 16k on 64-bit systems.
const SpoolMemory = 16 << 10

// Spool keeps a request body for the proxy: in memory while the whole
// body fits SpoolMemory, else all of it in an unlinked temp file in
// os.TempDir() (nginx's client_body_temp_path), which a core sends
// upstream with sendfile(2). The zero value is an empty Spool; Reset
// readies it for the next body and keeps only its SpoolMemory buffer.
//
// Writes to the temp file are regular-file writes: they may wait for
// the disk, as nginx's do on its event loop.
type Spool struct {
	mem  []byte
	file *os.File
	n    int64
}

// Write appends body bytes. It fails, with an error wrapping ErrSpool,
// only when the temp file cannot be created or written.
func (s *Spool) Write(data []byte) (int, error) {
	if s.file == nil && len(s.mem)+len(data) <= SpoolMemory {
		if s.mem == nil {
			s.mem = make([]byte, 0, SpoolMemory)
		}
		s.mem = append(s.mem, data...)
		s.n += int64(len(data))
		return len(data), nil
	}
	if s.file == nil {
		f, err := tempFile()
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrSpool, err)
		}
		s.file = f
		if _, err := f.Write(s.mem); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrSpool, err)
		}
		s.mem = s.mem[:0]
	}
	n, err := s.file.Write(data)
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return n, nil
}

// Len returns the body bytes kept.
func (s *Spool) Len() int64 { return s.n }

// Bytes returns the body when it is kept in memory (File is nil).
func (s *Spool) Bytes() []byte { return s.mem }

// File returns the temp file holding the whole body, nil while the
// body is in memory. It stays the Spool's: Reset closes it.
func (s *Spool) File() *os.File { return s.file }

// Retained returns the memory the Spool keeps across Reset.
func (s *Spool) Retained() int { return cap(s.mem) }

// Reset forgets the body, closing its temp file (which deletes it).
func (s *Spool) Reset() {
	s.mem = s.mem[:0]
	s.n = 0
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// tempFile opens an anonymous file in os.TempDir() for a request body:
// O_TMPFILE where the file system has it, else a named temp file that is
// unlinked at once. Either way the data goes when the file is closed.
func tempFile() (*os.File, error) {
	dir := os.TempDir()
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(request body)"), nil
	}
	f, err := os.CreateTemp(dir, "c10k-body-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
