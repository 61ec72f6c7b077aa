// Command c10k runs the reference servers, the load generator and the
// benchmark tooling. It only maps flags to packages; the logic lives in
// servers/, loadgen/, scenarios/ and reports/.
package main
