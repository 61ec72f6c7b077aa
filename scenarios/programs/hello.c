/* The tiny CGI program of make bench-cgi, compiled: a header block and
 * one line. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
	const char *s = getenv("SCRIPT_NAME");
	printf("Content-Type: text/plain\r\n\r\nhello from %s\n", s ? s : "cgi");
	return 0;
}
