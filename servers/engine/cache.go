package engine

// proxy_cache, as the cores see it (issue #9). CONTRACT STUB: the
// engine side is being implemented; the core side is these calls.
//
// A fresh hit is an ordinary plan (Body, or File for a disk entry):
// the core sends it like any other. A miss, an expired or a bypassed
// entry is a Proxy exchange as before; when the response may be stored
// (Caching after Response), the core passes every piece of the
// upstream body to CacheBody as it reads it (de-chunked, before any
// gzip), and calls Done only when the body was read whole (its
// Content-Length, the last chunk, or EOF for a close-delimited body).
// Failed, End and Reset abandon the entry: a partial response is never
// stored. A request waiting for another one's fill of the same key
// (proxy_cache_lock) gets a plan with Wait (see Plan.Wait). With
// proxy_cache_use_stale, a Failed that leaves no attempt turns the
// plan into the stale entry (an ordinary plan) instead of the 502/504.

// Caching reports whether the exchange stores the upstream response
// it is reading in the cache: after Response, and only then, the core
// passes the body to CacheBody.
func (x *Proxy) Caching() bool { return false }

// CacheBody stores the next piece of the upstream response body, b, in
// the cache entry being filled. It copies b (or writes it to the
// entry's temp file) before it returns. It does nothing when Caching
// is false, or once the entry went past the zone's limits (the
// response is then passed on but not stored).
func (x *Proxy) CacheBody(b []byte) {}
