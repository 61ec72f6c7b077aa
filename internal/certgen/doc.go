// Package certgen makes throwaway X.509 certificates at run time: a
// self-signed CA, server certificates it issues for host names and IP
// addresses, and their PEM files. The bench runner (scenarios.WriteTLS)
// and the test suites (servertest.Certs) both build on it, so nothing
// secret is ever committed to the repository or shared between runs.
package certgen
