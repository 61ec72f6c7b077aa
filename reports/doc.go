// Package reports renders bench results: terminal and Markdown tables,
// PNG/SVG plots (gonum.org/v1/plot) and self-contained Markdown/HTML reports.
// It only renders data it is given; measuring belongs to loadgen and scenarios.
package reports
