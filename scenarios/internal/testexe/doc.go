// Package testexe builds the c10k binary once for the tests of a package
// that run it as a child process (the bench runner, c10k deploy).
package testexe
