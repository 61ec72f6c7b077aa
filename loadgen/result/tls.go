package result

// TLSStats are the TLS figures of a run against an https URL: how many
// handshakes the load connections completed, how many of them resumed a
// session, and how long they took. With keep-alive off every request
// opens a connection, so Handshakes / DurationS (PerSecond) is the
// server's handshake rate. The idle set, the probes and the slow readers
// shake hands too; they count in Other only.
type TLSStats struct {
	// Version, Cipher and Curve are what the first handshake agreed:
	// "TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519MLKEM768".
	Version string `json:"version,omitempty"`
	Cipher  string `json:"cipher,omitempty"`
	Curve   string `json:"curve,omitempty"`
	// Resume says the client kept a session cache (--tls-resume): a
	// new connection resumes the previous session when the server lets
	// it, skipping the certificate and its signature.
	Resume     bool  `json:"resume"`
	Handshakes int64 `json:"handshakes"` // completed by the load connections
	Resumed    int64 `json:"resumed"`    // of Handshakes, resumed sessions
	Failed     int64 `json:"failed"`     // load handshakes that failed
	// PerSecond is Handshakes / DurationS; Latency summarises
	// Hist.Handshake: from the TCP connection being up to the
	// handshake's end, in milliseconds.
	PerSecond float64 `json:"handshakes_per_s"`
	Latency   Latency `json:"handshake_ms"`
	// Other counts the handshakes of the idle set, probes and slow
	// readers, which are in none of the figures above.
	Other int64 `json:"other_handshakes,omitempty"`
}

// merge adds o's counts to t; the first non-empty names win.
func (t *TLSStats) merge(o *TLSStats) {
	if t.Version == "" {
		t.Version, t.Cipher, t.Curve = o.Version, o.Cipher, o.Curve
	}
	t.Resume = t.Resume || o.Resume
	t.Handshakes += o.Handshakes
	t.Resumed += o.Resumed
	t.Failed += o.Failed
	t.Other += o.Other
}
