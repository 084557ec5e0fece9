//go:build !windows

package files

import "os"

// swapLink replaces link with tmp in one rename(2): readers resolve either
// the old target or the new one, never nothing.
func swapLink(tmp, link, _ string) error {
	return os.Rename(tmp, link)
}
