package main

import (
	"fmt"
	"strings"
)

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
