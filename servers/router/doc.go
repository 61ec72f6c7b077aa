// Package router chooses the virtual server and the location for a request
// with nginx's precedence rules: server_name and default_server per listen
// address, then =, longest prefix, ^~ and regex locations. It does no I/O.
package router
