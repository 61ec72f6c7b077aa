package deploy

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/loadgen"
)

// TestReloadUnderLoad is #9's graceful reload end to end on every core:
// under a steady open-model load of 200 requests per second through a
// real c10k serve, eight SIGHUP reloads, each with a changed config,
// fail no request, and the last config is the one serving.
func TestReloadUnderLoad(t *testing.T) {
	const reloads = 8
	for _, core := range []string{"thread", "event", "cgi", "nethttp"} {
		t.Run(core, func(t *testing.T) {
			checkNoLeftovers(t)
			s := newSite(t, core)
			base, err := os.ReadFile(s.conf)
			if err != nil {
				t.Fatal(err)
			}
			// generation N: notice-level logging (so each reload leaves
			// its line) and an X-Gen answer header.
			gen := func(n int) string {
				c := strings.Replace(string(base), "proxy_pass http://app;", "proxy_pass http://app;\n            add_header X-Gen "+strconv.Itoa(n)+";", 1)
				return "error_log stderr notice;\n" + c
			}

			var g errgroup.Group
			var sum *loadgenSummary
			g.Go(func() error {
				res, err := loadgen.Run(context.Background(), loadgen.Options{
					Request:  loadgen.Request{Method: http.MethodGet, URL: s.url()},
					Rate:     200,
					Duration: 3 * time.Second,
					Timeout:  5 * time.Second,
				})
				if err != nil {
					return err
				}
				sum = &loadgenSummary{requests: res.Requests, statuses: res.StatusCodes, errors: res.Errors, first: res.FirstError}
				return nil
			})
			time.Sleep(300 * time.Millisecond)
			for n := 1; n <= reloads; n++ {
				if err := os.WriteFile(s.conf, []byte(gen(n)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Kill(s.server.pid, syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("load: %v", err)
			}
			logPath := filepath.Join(s.dir, "error.log")
			waitFor(t, "the reloads' notices", s.server, func() bool {
				b, _ := os.ReadFile(logPath)
				return strings.Count(string(b), "reloaded "+s.conf) >= reloads-1
			})
			failed := sum.failed()
			t.Logf("%s core: %d requests sent at 200/s across %d reloads, %d failed; statuses %v", core, sum.requests, reloads, failed, sum.statuses)
			if sum.requests == 0 || failed != 0 {
				b, _ := os.ReadFile(logPath)
				t.Errorf("%d of %d requests failed across %d reloads (errors %v, first %q)\nerror log:\n%s",
					failed, sum.requests, reloads, sum.errors, sum.first, b)
			}
			_, hdr, err := get(context.Background(), s.url())
			if err != nil || hdr.Get("X-Gen") != strconv.Itoa(reloads) {
				t.Errorf("after the reloads: X-Gen %q, %v; want %d", hdr.Get("X-Gen"), err, reloads)
			}
			if s.server.exited() {
				t.Error("the server exited: a restart, not a reload")
			}
		})
	}
}
