//go:build !race

package cgi_test

const raceEnabled = false
