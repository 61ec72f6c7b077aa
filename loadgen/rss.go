package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS returns the summed resident set size (VmRSS) of the processes pids,
// in bytes. It counts shared pages (the binary, libc) in each process, so
// compare two samples of the same processes: the difference is what they
// allocated. Kernel memory (socket buffers, TCP state) is not in it.
func RSS(pids ...int) (int64, error) {
	var total int64
	for _, pid := range pids {
		kb, err := vmRSS(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, fmt.Errorf("loadgen: rss of pid %d: %w", pid, err)
		}
		total += kb << 10
	}
	return total, nil
}

func vmRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "1234 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: malformed VmRSS line %q", path, sc.Text())
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no VmRSS line (a kernel thread or a zombie?)", path)
}
