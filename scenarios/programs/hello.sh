#!/bin/sh
# The tiny CGI program of make bench-cgi: a header block and one line.
printf 'Content-Type: text/plain\r\n\r\nhello from %s\n' "${SCRIPT_NAME:-cgi}"
