# syntax=docker/dockerfile:1.7
#
# One Dockerfile for the four clinicops services. Build from the repository
# root (the services replace github.com/clinicops/clinicops/pkg with ../../pkg
# and build in workspace mode, so the whole repo is the context):
#
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=intake \
#     -t clinicops/intake:dev .
#
# SERVICE is one of: intake, scheduling, billing, followup.
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

ARG GO_VERSION=1.26

# ---- build -----------------------------------------------------------------
# Runs on the build host's platform and cross-compiles for the target, so
# `docker buildx build --platform linux/amd64,linux/arm64` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG SERVICE
ARG TARGETOS
ARG TARGETARCH

# The official golang image keeps modules in /go/pkg/mod (GOPATH=/go); pin both
# caches to the paths the cache mounts below use.
ENV CGO_ENABLED=0 \
    GOMODCACHE=/root/go/pkg/mod \
    GOCACHE=/root/.cache/go-build \
    GOFLAGS=-buildvcs=false

WORKDIR /src
COPY . .

RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    case "${SERVICE:-}" in \
      intake|scheduling|billing|followup) ;; \
      *) echo "build with --build-arg SERVICE=intake|scheduling|billing|followup (got '${SERVICE:-}')" >&2; exit 1 ;; \
    esac; \
    GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}" \
      go build -trimpath -o "/out/${SERVICE}" "./services/${SERVICE}/cmd/${SERVICE}"

# ---- runtime ---------------------------------------------------------------
# distroless/static: no shell, no package manager; ships CA certificates and
# tzdata (CLINIC_TIME_ZONE is resolved with time.LoadLocation at start).
FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
LABEL org.opencontainers.image.title="clinicops-${SERVICE}" \
      org.opencontainers.image.source="https://github.com/clinicops/clinicops" \
      org.opencontainers.image.description="clinicops ${SERVICE} service"

# A fixed path: exec-form ENTRYPOINT cannot expand ${SERVICE}.
COPY --from=build /out/${SERVICE} /usr/local/bin/clinicops-service

# nonroot = 65532:65532. Numeric so Kubernetes can verify runAsNonRoot.
USER 65532:65532

# The HTTP port is the service's <SERVICE>_HTTP_ADDR (defaults :8081 intake,
# :8082 scheduling, :8083 billing, :8084 followup). No HEALTHCHECK: the image
# has no shell or curl; orchestrators probe GET /healthz and GET /readyz.
ENTRYPOINT ["/usr/local/bin/clinicops-service"]
