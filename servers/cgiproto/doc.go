// Package cgiproto holds the sans-I/O parts of the Common Gateway
// Interface (RFC 3875) that every core shares: the parser of a CGI
// program's response header block (Status, Content-Type, Location and
// other fields; document, local-redirect and client-redirect responses)
// and the names of the protocol meta-variables built from request
// header fields. It does no I/O: a core runs the child process and
// feeds its output here, as it feeds request bytes to http1.
package cgiproto
