package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cloudEnvDirUsage documents --cloud-env-dir, shared by node and mount.
const cloudEnvDirUsage = "the only directory a SecretProviderClass's cloudEnvFileName (cloudName: AzureStackCloud) may name a file in, " +
	"e.g. /etc/kubernetes; empty refuses custom clouds. The node plugin reads that file as root and sends credentials to the endpoints it names, " +
	"so it must be a directory only the operator writes"

// checkCloudEnvDir fails fast on a --cloud-env-dir that could never hold a
// file, instead of at the first publish of a custom cloud class.
func checkCloudEnvDir(dir string) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("--cloud-env-dir %q: want an absolute path", dir)
	}
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return fmt.Errorf("--cloud-env-dir: %w", err)
	}
	return nil
}

// resolveFlag collects repeated --resolve SUFFIX=ADDR flags.
type resolveFlag map[string]string

func (r resolveFlag) String() string {
	var parts []string
	for k, v := range r {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (r resolveFlag) Set(s string) error {
	suffix, addr, ok := strings.Cut(s, "=")
	if !ok || suffix == "" || addr == "" {
		return fmt.Errorf("want SUFFIX=HOST:PORT, e.g. vault.test=127.0.0.1:8443")
	}
	r[suffix] = addr
	return nil
}
