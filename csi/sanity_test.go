package csi_test

import (
	"path/filepath"
	"testing"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// TestSanity runs csi-test's Identity and Node specs against the server on
// a unix socket. This is a node-only driver: the Controller specs, and
// "should remove target path" (which creates a volume through the
// controller), do not apply. csi-sanity cannot send a volume context, so
// its NodePublishVolume specs exercise the refusals; successful publishes
// are covered by the tests in nodeserver_test.go.
func TestSanity(t *testing.T) {
	e := startEnv(t, defaultClasses())
	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + e.socket
	cfg.TargetPath = filepath.Join(e.dir, "sanity-mount")
	cfg.StagingPath = filepath.Join(e.dir, "sanity-staging")
	cfg.SecretsFile = ""
	sc := sanity.GinkgoTest(&cfg)
	gomega.RegisterFailHandler(ginkgo.Fail)
	suite, reporter := ginkgo.GinkgoConfiguration()
	suite.SkipStrings = []string{`\[Controller Server\]`, "should remove target path"}
	reporter.NoColor = true
	ginkgo.RunSpecs(t, "secretfs csi-sanity (Identity, Node)", suite, reporter)
	sc.Finalize()
}
