// Package backend is the reference application server (the WAS) that sits
// behind the proxy in scenarios and tests: it simulates latency, CPU work,
// response sizes, errors, failures and a sync (prefork) or async worker model.
package backend
