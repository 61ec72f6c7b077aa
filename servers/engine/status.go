package engine

import (
	"strconv"

	"github.com/c10k/c10k/servers/http1"
)

// pageCodes are the statuses nginx has a built-in page for
// (ngx_http_error_pages in ngx_http_special_response.c); others get an
// empty body.
var pageCodes = []int{
	301, 302, 303, 307, 308,
	400, 401, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 421, 429,
	500, 501, 502, 503, 504, 505, 507,
}

// pageText holds the titles where nginx's page differs from the reason
// phrase of the status line (http1.StatusText).
var pageText = map[int]string{
	302: "Found",
	401: "Authorization Required",
}

// badRequestPages are nginx's internal 4xx codes: the client gets status
// 400 with a page naming the cause.
var badRequestPages = map[int]string{
	494: "Request Header Or Cookie Too Large",
	495: "The SSL certificate error",
	496: "No required SSL certificate was sent",
	497: "The plain HTTP request was sent to HTTPS port",
}

// pages builds nginx's built-in response pages for every status that has
// one, with software in the footer.
func pages(software string) map[int][]byte {
	tail := "<hr><center>" + software + "</center>\r\n</body>\r\n</html>\r\n"
	m := make(map[int][]byte, len(pageCodes)+len(badRequestPages))
	for _, code := range pageCodes {
		text, ok := pageText[code]
		if !ok {
			text = http1.StatusText(code)
		}
		line := strconv.Itoa(code) + " " + text
		m[code] = []byte("<html>\r\n<head><title>" + line + "</title></head>\r\n<body>\r\n<center><h1>" +
			line + "</h1></center>\r\n" + tail)
	}
	for code, text := range badRequestPages {
		m[code] = []byte("<html>\r\n<head><title>400 " + text + "</title></head>\r\n<body>\r\n" +
			"<center><h1>400 Bad Request</h1></center>\r\n<center>" + text + "</center>\r\n" + tail)
	}
	return m
}
