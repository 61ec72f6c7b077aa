package backend

import (
	"fmt"
	"strconv"
	"time"
)

// Worker models accepted by Options.Model.
const (
	ModelSync  = "sync"  // at most Workers requests at once, the rest queue FIFO (gunicorn sync workers)
	ModelAsync = "async" // every request runs at once (uvicorn, an event loop)
)

// Defaults used for zero fields of Options.
const (
	DefaultListen          = "127.0.0.1:8081"
	DefaultShutdownTimeout = 10 * time.Second
	// ReadHeaderTimeout bounds how long the server waits for a request
	// head, so that slow clients (slowloris) cannot hold it.
	ReadHeaderTimeout = 10 * time.Second
)

// Options configure a Server. The zero value is a working async server on
// DefaultListen that answers at once with a JSON echo.
type Options struct {
	// Listen is the TCP address Run listens on; "" means DefaultListen.
	// An app server belongs on loopback, behind the proxy.
	Listen string

	// Name is sent in the X-Backend header of every response and in the
	// echo body; "" means the address the server listens on.
	Name string

	// Latency is how long each request waits before it is answered.
	Latency time.Duration

	// Jitter spreads Latency uniformly over [Latency-Jitter, Latency+Jitter],
	// never below zero.
	Jitter time.Duration

	// CPU is the CPU time each request spends hashing (busy work, not sleep).
	CPU time.Duration

	// Size is the response body length in bytes. Zero means a JSON echo of
	// the request (see Echo).
	Size int64

	// ErrorRate is the fraction of requests, in [0, 1], answered with 500.
	ErrorRate float64

	// Model is ModelSync or ModelAsync; "" means ModelAsync.
	Model string

	// Workers bounds the requests processed at once with ModelSync; the
	// others wait in arrival order and their latency includes the wait.
	// Zero means 1, as gunicorn. Ignored with ModelAsync, but negative
	// is an error with either model.
	Workers int

	// Seed seeds the generator behind ErrorRate and Jitter, so that a run
	// is repeatable. Zero means a random seed.
	Seed uint64

	// ShutdownTimeout bounds how long Run and Serve wait for in-flight
	// requests once their context is done; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// check validates o and fills in its defaults, except Name.
func (o *Options) check() error {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Latency", o.Latency},
		{"Jitter", o.Jitter},
		{"CPU", o.CPU},
		{"ShutdownTimeout", o.ShutdownTimeout},
	} {
		if d.v < 0 {
			return &OptionError{d.name, d.v.String(), "must not be negative"}
		}
	}
	if o.Size < 0 {
		return &OptionError{"Size", strconv.FormatInt(o.Size, 10), "must not be negative"}
	}
	if !(o.ErrorRate >= 0 && o.ErrorRate <= 1) { // also rejects NaN
		return &OptionError{"ErrorRate", strconv.FormatFloat(o.ErrorRate, 'g', -1, 64), "must be within [0, 1]"}
	}
	switch o.Model {
	case "":
		o.Model = ModelAsync
	case ModelSync, ModelAsync:
	default:
		return &OptionError{"Model", strconv.Quote(o.Model), fmt.Sprintf("must be %q or %q", ModelSync, ModelAsync)}
	}
	if o.Workers < 0 { // a mistake whatever the model
		return &OptionError{"Workers", strconv.Itoa(o.Workers), "must not be negative"}
	}
	if o.Model == ModelSync && o.Workers == 0 {
		o.Workers = 1
	}
	for _, c := range []byte(o.Name) {
		if c < ' ' || c == 0x7f { // it is sent in a header
			return &OptionError{"Name", strconv.Quote(o.Name), "must not contain control characters"}
		}
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return nil
}
