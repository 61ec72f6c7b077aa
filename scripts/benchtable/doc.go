// Command benchtable is the reporter of scripts/bench-servers: it turns wrk
// output into JSON lines and the run's JSON lines into one side-by-side table
// (terminal and Markdown). It only formats; the script measures.
package main
