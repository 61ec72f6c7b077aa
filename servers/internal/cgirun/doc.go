// Package cgirun runs the child processes of cgi_pass exchanges for
// every core: one fork+exec (vfork) per request with a clean
// environment (only what engine.CGI.Env builds), its own process group
// so that a kill reaches everything it started, the request body on
// stdin (an anonymous memory file: no goroutine feeds a pipe), stdout
// read on the calling goroutine, stderr into one pipe all children
// share, turned into error-log lines by a single goroutine (as lighttpd
// gives every child its error log), cgi_timeout enforced with SIGTERM
// then SIGKILL after a grace period (Ender), a limit on concurrent
// children with a FIFO queue beyond it, and every child reaped, through
// its pidfd on the netpoller where the kernel has one. Cores call
// Runner.Serve from a goroutine that may block: the thread core's
// worker, the cgi core's connection goroutine, the event core's
// per-exchange goroutine; Close, once the children are done, releases
// what they shared.
//
// The output is collected whole (up to Options.MaxOutput) before the
// engine sees it, like nginx's buffered proxying: the plan the engine
// makes of it is an ordinary in-memory response every core already
// knows how to send. A program streaming gigabytes is not what cgi_pass
// is for. The output ends when the program and whatever it started
// have closed stdout, or when the child is ended.
package cgirun
