package main

import (
	"fmt"
	"strings"
)

// cloudEnvDirUsage documents --cloud-env-dir, shared by node and mount.
const cloudEnvDirUsage = "the only directory a SecretProviderClass's cloudEnvFileName (cloudName: AzureStackCloud) may name a file in, " +
	"e.g. /etc/kubernetes; empty refuses custom clouds. The node plugin reads that file as root and sends credentials to the endpoints it names, " +
	"so it must be a directory only the operator writes"

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
