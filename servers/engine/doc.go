// Package engine is the shared, sans-I/O web server: it routes a parsed
// request to a virtual server and location and plans the response (static
// files, return, error_page, try_files, reverse proxy) for any core.
package engine
