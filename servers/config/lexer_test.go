package config

import (
	"reflect"
	"testing"
)

func TestLexer(t *testing.T) {
	type stmt struct {
		Words []string
		End   byte
		Line  int // line of the first word
	}
	tests := []struct {
		name string
		src  string
		want []stmt
	}{
		{"simple", "a b;\nc {\n}\n", []stmt{{[]string{"a", "b"}, ';', 1}, {[]string{"c"}, '{', 2}, {nil, '}', 0}}},
		{"comments", "# x\na #b;\n c;\nd#e;", []stmt{{[]string{"a", "c"}, ';', 2}, {[]string{"d#e"}, ';', 4}}},
		{"double quoted", `a "b c" "d\"e" "f\\g" "h\ni\tj" "k\x";`, []stmt{{[]string{"a", "b c", `d"e`, `f\g`, "h\ni\tj", `k\x`}, ';', 1}}},
		{"single quoted", `a 'b "c"' 'd\'e';`, []stmt{{[]string{"a", `b "c"`, "d'e"}, ';', 1}}},
		{"empty string", `a "" '';`, []stmt{{[]string{"a", "", ""}, ';', 1}}},
		{"escapes in words", `a b\;c d\ e f\$g;`, []stmt{{[]string{"a", "b\\;c", `d\ e`, `f\$g`}, ';', 1}}},
		{"variable braces", "a ${host}x $a{", []stmt{{[]string{"a", "${host}x", "$a"}, '{', 1}}},
		{"close inside word", "a b}c;", []stmt{{[]string{"a", "b}c"}, ';', 1}}},
		{"multiline string", "a \"x\ny\"\n b;\nc;", []stmt{{[]string{"a", "x\ny", "b"}, ';', 1}, {[]string{"c"}, ';', 4}}},
		{"crlf", "a b;\r\nc;\r\n", []stmt{{[]string{"a", "b"}, ';', 1}, {[]string{"c"}, ';', 2}}},
		{"string then brace", `a "b"{`, []stmt{{[]string{"a", "b"}, '{', 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLexer("t.conf", []byte(tt.src))
			var got []stmt
			for {
				words, end, err := l.next()
				if err != nil {
					t.Fatal(err)
				}
				if end == endEOF {
					break
				}
				s := stmt{End: end}
				for i, w := range words {
					s.Words = append(s.Words, w.text)
					if i == 0 {
						s.Line = w.line
					}
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
