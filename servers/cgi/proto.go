package cgi

import "time"

// The parent and a c10k child speak JSON lines: one job on the child's
// stdin (followed by its payload bytes), reports on its stdout, and for
// a proxy exchange one verdict on stdin after the child reported the
// upstream's response head.
//
// A response that fills a proxy_cache entry reaches the parent's engine
// (which owns the cache) through the same stdout: the child sends each
// de-chunked piece of the upstream body as a "body" report as it relays
// it, and the parent passes it to engine.Proxy.CacheBody. Once the body
// was read whole the child sends "whole" and waits: the parent calls
// Done, which stores the entry, and answers with an empty verdict; only
// then does the child write the end of the response, so that a client
// asking again at once finds the entry. A fill that ends without
// "whole" is abandoned (DonePartial). Only a fill pays for the copy,
// once per entry; the other responses still never pass through the
// parent. (A temp file handed down as fd 5
// would have to be created for every proxy attempt, before the parent
// knows whether the response may be stored, and would be copied once
// more from the disk.)
//
// Descriptors of a child: 0 the job, 1 the reports, 2 the error log
// (the pipe every child shares), 3 the client socket (the child writes
// the response to it directly, like an nph CGI program or an inetd
// service; the parent never copies response bytes), 4 the file of a
// static plan, or the upstream connection of a proxy attempt: the
// parent connected it (or took it from its keepalive pool) and keeps
// its own copy, which it pools again when the child reports it
// reusable.

// job is what the parent asks a child to do.
type job struct {
	Kind string // "bytes": write Head then Payload; "file": Head then the file region; "proxy": an upstream attempt

	Head    int   // bytes of client response head in the payload (bytes, file)
	Payload int   // bytes following the job line: head+body (bytes), or upstream request head+body (proxy)
	Offset  int64 // file region (file)
	Length  int64

	SendTimeout time.Duration // send_timeout, for writes to the client

	// Gzip is engine.Plan.Gzip of a file plan: the child compresses the
	// region (coreio.Gzip), as chunks when Chunked.
	Gzip    int  `json:",omitempty"`
	Chunked bool `json:",omitempty"`

	// proxy
	Send, Read  time.Duration
	HeadRequest bool // the request is HEAD: the upstream response has no body
	Buffering   bool // proxy_buffering: read the whole upstream body before sending anything
}

// verdict answers a proxy child's "head" report.
type verdict struct {
	Retry   bool // drop this response: the parent tries another peer
	Head    int  // bytes of client response head following the line
	Chunked bool // encode the body chunked to the client
	NoBody  bool // send the head only
	Gzip    int  `json:",omitempty"` // engine.Plan.Gzip: compress the body at this level (framed as chunks when Chunked)
	// Cache says the response fills a proxy_cache entry
	// (engine.Proxy.Caching): the child tees the upstream body,
	// de-chunked, to the parent as "body" reports while it relays it,
	// and a "whole" report when it was read whole.
	Cache bool `json:",omitempty"`
}

// report is a child's account of its work.
type report struct {
	Event   string // "head" (proxy: the upstream head follows, Head bytes), "body" (verdict.Cache: Body bytes of it follow), "whole" (the cache fill's body is complete: the parent stores it and answers), "fail", "done"
	Head    int    `json:",omitempty"`
	Body    int    `json:",omitempty"` // bytes of upstream body following a "body" report
	Failure string `json:",omitempty"` // "error", "timeout", "invalid_header"
	Stage   int    `json:",omitempty"` // engine.Stage of a failure
	Err     string `json:",omitempty"` // OS or protocol error text
	Sent    bool   `json:",omitempty"` // response bytes reached the client before the failure
	Client  string `json:",omitempty"` // the client write failed: the connection is done
	Reuse   bool   `json:",omitempty"` // proxy "done": the upstream response was read whole and keeps the connection alive
	Stale   bool   `json:",omitempty"` // proxy "fail": the connection was closed or reset before any response byte
	Bytes   int64  `json:",omitempty"` // bytes the child wrote to the client, for the access log
}
