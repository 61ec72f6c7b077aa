package coreio

import (
	"fmt"
	"os"
)

// MaxTempFile is the most of one upstream response body a core keeps in
// a RespSpool: nginx's proxy_max_temp_file_size default, 1024m. Past it
// the core streams the rest as the client reads it, as nginx does.
const MaxTempFile = 1 << 30

// RespSpool keeps the part of a buffered upstream response
// (proxy_buffering on) that does not fit the core's memory buffers, in
// an unlinked temp file in os.TempDir() (nginx's proxy_temp_path, made
// as Spool makes request-body files), so that the upstream connection
// is released before a slow client is written to; the core then sends
// the file with sendfile(2). The zero value is empty; Close ends a body
// and readies the RespSpool for the next one. It holds no memory.
//
// Writes are regular-file writes: they may wait for the disk, as
// nginx's do on its event loop.
type RespSpool struct {
	file *os.File
	n    int64
}

// Write appends body bytes, creating the temp file on the first call.
// It fails only when the file cannot be created or written; Len then
// counts the bytes the file holds.
func (s *RespSpool) Write(data []byte) (int, error) {
	if s.file == nil {
		f, err := tempFile()
		if err != nil {
			return 0, fmt.Errorf("response body temp file: %w", err)
		}
		s.file = f
	}
	n, err := s.file.Write(data)
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("response body temp file: %w", err)
	}
	return n, nil
}

// Len returns the body bytes the temp file holds, from offset 0.
func (s *RespSpool) Len() int64 { return s.n }

// File returns the temp file, nil before the first Write. It stays the
// RespSpool's: Close closes it.
func (s *RespSpool) File() *os.File { return s.file }

// Close closes the temp file, which deletes it, and empties s. It is
// safe on an empty RespSpool and more than once.
func (s *RespSpool) Close() error {
	s.n = 0
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
