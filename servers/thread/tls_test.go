package thread_test

import (
	"testing"

	"github.com/c10k/c10k/servers/servertest"
)

// BenchmarkTLSStatic1K is BenchmarkStatic1K over TLS: the 1 KB file is
// read with pread(2) and encrypted by the worker (no sendfile under
// TLS), each keep-alive connection after its handshake.
func BenchmarkTLSStatic1K(b *testing.B) {
	servertest.BenchmarkStatic(b, startThread, servertest.BenchOptions{TLS: true})
}
