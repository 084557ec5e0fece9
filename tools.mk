# tools.mk — real binaries the tests run: kube-apiserver, etcd, csi-sanity.
#
# Each is built from the Go module proxy (nested modules under tools/) into a
# cache outside the work tree, named with its version, so a machine builds it
# once (kube-apiserver takes ~4 minutes cold on 2 cores) and every later
# checkout, CI run or `make test` reuses it. The targets have no file
# prerequisites on purpose: a fresh clone has new mtimes, and a version bump
# changes the file name instead. Builds go to a temporary name and are renamed
# into place, so an interrupted or concurrent build never leaves a broken
# binary under the final name.
#
# Included by the main Makefile. Provides:
#   make variables  KUBE_APISERVER ETCD CSI_SANITY KUBE_CONTROLLER_MANAGER
#   environment     SECRETFS_KUBE_APISERVER SECRETFS_ETCD SECRETFS_CSI_SANITY
#                   SECRETFS_KUBE_CONTROLLER_MANAGER (read by kube/kubetest and
#                   kube/secretsync/gctest)
#   targets         tools (every binary) kube-apiserver kube-controller-manager etcd csi-sanity

TOOLS_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

KUBE_VERSION       := v1.36.3
ETCD_VERSION       := v3.6.16
CSI_SANITY_VERSION := v5.6.0

SECRETFS_TOOLS_DIR ?= $(or $(HOME),/root)/.cache/secretfs/bin

KUBE_APISERVER          := $(SECRETFS_TOOLS_DIR)/kube-apiserver-$(KUBE_VERSION)
KUBE_CONTROLLER_MANAGER := $(SECRETFS_TOOLS_DIR)/kube-controller-manager-$(KUBE_VERSION)
ETCD                    := $(SECRETFS_TOOLS_DIR)/etcd-$(ETCD_VERSION)
CSI_SANITY              := $(SECRETFS_TOOLS_DIR)/csi-sanity-$(CSI_SANITY_VERSION)

export SECRETFS_KUBE_APISERVER          := $(KUBE_APISERVER)
export SECRETFS_KUBE_CONTROLLER_MANAGER := $(KUBE_CONTROLLER_MANAGER)
export SECRETFS_ETCD                    := $(ETCD)
export SECRETFS_CSI_SANITY              := $(CSI_SANITY)

# TOOLS_GO builds outside the main module's settings: -mod=mod lets the nested
# modules resolve from the proxy; -buildvcs=false because tools/ is not a repo root.
TOOLS_GO := env GOFLAGS="-mod=mod -buildvcs=false" go

.PHONY: tools kube-apiserver kube-controller-manager etcd csi-sanity

tools: kube-apiserver kube-controller-manager etcd csi-sanity

kube-apiserver: $(KUBE_APISERVER)
kube-controller-manager: $(KUBE_CONTROLLER_MANAGER)
etcd: $(ETCD)
csi-sanity: $(CSI_SANITY)

# tools_build: $(1) module dir under tools/, $(2) package, $(3) output binary.
define tools_build
	@mkdir -p $(dir $(3))
	@echo "building $(notdir $(3)) into $(dir $(3)) (once per machine)"
	cd $(TOOLS_MK_DIR)/tools/$(1) && $(TOOLS_GO) build -trimpath -o $(3).tmp.$$$$ $(2) && mv -f $(3).tmp.$$$$ $(3)
endef

$(KUBE_APISERVER):
	$(call tools_build,kube-apiserver,k8s.io/kubernetes/cmd/kube-apiserver,$@)

$(KUBE_CONTROLLER_MANAGER):
	$(call tools_build,kube-apiserver,k8s.io/kubernetes/cmd/kube-controller-manager,$@)

$(ETCD):
	$(call tools_build,etcd,.,$@)

# csi-sanity is a published command: go install it into a private GOBIN, then rename.
$(CSI_SANITY):
	@mkdir -p $(dir $@)
	tmp=$$(mktemp -d $(dir $@).csi-sanity.XXXXXX) && \
	env GOFLAGS=-buildvcs=false GOBIN=$$tmp go install -trimpath github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$(CSI_SANITY_VERSION) && \
	mv -f $$tmp/csi-sanity $@ && rmdir $$tmp

# helm renders deploy/chart for the deploy/ tests and `make manifests`. Built
# from the nested module tools/helm (every dependency pinned in its go.sum).
# The -X flags stamp what helm's own Makefile stamps into a release: the
# version `helm version` reports, and the default Kubernetes version of
# `helm template` (.Capabilities.KubeVersion), from its client-go v0.37.
HELM_VERSION := v3.22.0
HELM         := $(SECRETFS_TOOLS_DIR)/helm-$(HELM_VERSION)
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/internal/version.metadata= \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37
export SECRETFS_HELM := $(HELM)

.PHONY: helm manifests
tools: helm
helm: $(HELM)

$(HELM):
	@mkdir -p $(dir $@)
	@echo "building $(notdir $@) into $(dir $@) (once per machine)"
	cd $(TOOLS_MK_DIR)/tools/helm && $(TOOLS_GO) build -trimpath \
		-ldflags "$(HELM_LDFLAGS)" \
		-o $@.tmp.$$$$ helm.sh/helm/v3/cmd/helm && mv -f $@.tmp.$$$$ $@

# manifests: copy the upstream CRDs into the chart and render the chart with
# default values into deploy/manifests/ (deploy/ tests fail if either drifts).
manifests: $(HELM)
	SECRETFS_HELM=$(HELM) $(TOOLS_MK_DIR)/deploy/render.sh
