package fusefs

import (
	"strconv"
	"strings"
)

// parseDevFD returns N for "/dev/fd/N", or -1.
func parseDevFD(s string) int {
	rest, ok := strings.CutPrefix(s, "/dev/fd/")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
