# syntax=docker/dockerfile:1
#
# The secretfs image: one static binary (node plugin, and later the keeper) on a small Debian.
#
# Runtime base: debian:bookworm-slim rather than distroless. The node plugin runs mount(8),
# umount(8) and fusermount3 (clearing stuck or dead FUSE mounts, what mount-utils shells out to),
# and those need util-linux's libmount/libblkid and fuse3; copying them into distroless with their
# shared libraries is fragile and saves little. ca-certificates is for TLS to Key Vault and Entra ID.
#
# Non-root is impossible: mount(2), /dev/fuse and Bidirectional mount propagation need a privileged
# container running as root (the DaemonSet sets privileged: true). The image says USER root so that
# nobody mistakes the default for an oversight.
#
# Build (multi-arch with buildx): docker buildx build --platform linux/amd64,linux/arm64 -t IMAGE .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static (CGO_ENABLED=0) and reproducible (-trimpath, no VCS stamp): the same source gives the same
# binary on any builder, and it runs on any libc. deploy/dockerfile_test.go runs this same build.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/secretfs ./cmd/secretfs

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates fuse3 mount \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/secretfs /usr/local/bin/secretfs
USER root
# The DaemonSet supplies the subcommand and flags (secretfs node …).
ENTRYPOINT ["/usr/local/bin/secretfs"]
