package config

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// dump writes v as indented text: structs field by field, maps with
// sorted keys, durations and regexps as strings. The built-in types table
// is written as "builtin" to keep golden files short.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v), 0)
	return b.String()
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	regexpType   = reflect.TypeFor[*regexp.Regexp]()
)

func dumpValue(b *strings.Builder, v reflect.Value, depth int) {
	ind := strings.Repeat("  ", depth)
	switch {
	case v.Type() == durationType:
		b.WriteString(time.Duration(v.Int()).String())
		return
	case v.Type() == reflect.TypeFor[netip.Prefix]():
		b.WriteString(v.Interface().(netip.Prefix).String())
		return
	case v.Type() == reflect.TypeFor[Pos]():
		b.WriteString(v.Interface().(Pos).String())
		return
	case v.Type() == reflect.TypeFor[Template]():
		t := v.Interface().(Template)
		fmt.Fprintf(b, "%q [", t.Raw)
		for i, p := range t.Parts {
			if i > 0 {
				b.WriteString(" ")
			}
			if p.Var != "" {
				b.WriteString("$" + p.Var)
			} else {
				fmt.Fprintf(b, "%q", p.Lit)
			}
		}
		b.WriteString("]")
		return
	case v.Type() == regexpType:
		if v.IsNil() {
			b.WriteString("nil")
		} else {
			fmt.Fprintf(b, "regexp(%q)", v.Interface().(*regexp.Regexp).String())
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpValue(b, v.Elem(), depth)
	case reflect.Struct:
		t := v.Type()
		b.WriteString(t.Name() + " {\n")
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			b.WriteString(ind + "  " + t.Field(i).Name + ": ")
			dumpValue(b, f, depth+1)
			b.WriteString("\n")
		}
		b.WriteString(ind + "}")
	case reflect.Slice:
		if v.Len() == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i := 0; i < v.Len(); i++ {
			b.WriteString(ind + "  ")
			dumpValue(b, v.Index(i), depth+1)
			b.WriteString("\n")
		}
		b.WriteString(ind + "]")
	case reflect.Map:
		if v.Type() == reflect.TypeFor[map[string]string]() {
			if v.Pointer() == reflect.ValueOf(builtinTypes()).Pointer() {
				b.WriteString("builtin")
				return
			}
			if v.Len() > 20 {
				fmt.Fprintf(b, "%d entries", v.Len())
				return
			}
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		b.WriteString("{\n")
		for _, k := range keys {
			fmt.Fprintf(b, "%s  %v: ", ind, k)
			dumpValue(b, v.MapIndex(k), depth+1)
			b.WriteString("\n")
		}
		b.WriteString(ind + "}")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n%s", name, got)
	}
}
