# One image per service, all from this file:
#   docker build --build-arg SERVICE=accounts -t storefront/accounts:0.1.0 .
# SERVICE is accounts, orders or fulfillment; STOREFRONT_GIT_COMMIT (optional) is the commit that
# actuator/info reports.
#
# The build stage runs exactly the build command of scripts/run-local.sh (scripts/check-deploy.sh
# fails if they differ): the images hold the same release binaries as a local run, with no second
# build path to drift. That stage does not depend on SERVICE, so building the three images
# compiles the workspace once and the other two builds reuse its layers.

ARG RUST_VERSION=1.95

# bookworm, like the runtime image below: the binaries need the glibc they were linked against.
FROM rust:${RUST_VERSION}-slim-bookworm AS build
# rdkafka-sys compiles librdkafka from source with its own configure script, and zlib from the
# libz-sys crate's copy of its source (the rdkafka feature libz-static), so that the binaries
# need no libz.so.1: the runtime image below has none.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependency layer: the manifests and the lock file, with empty targets, so that a change to the
# sources reuses the compiled dependencies (most of the build time) from the layer cache.
COPY Cargo.toml Cargo.lock ./
COPY shared-events/Cargo.toml shared-events/
COPY platform/Cargo.toml platform/
COPY services/accounts/Cargo.toml services/accounts/
COPY services/orders/Cargo.toml services/orders/
COPY services/fulfillment/Cargo.toml services/fulfillment/
# The services' manifests name this build script (how their binaries are linked).
COPY services/build.rs services/
# Not built, but cargo reads every workspace member's manifest to resolve the workspace
# (scripts/check-deploy.sh loads the workspace from exactly what these COPYs bring).
COPY system-tests/Cargo.toml system-tests/
COPY test-support/Cargo.toml test-support/
COPY bench/Cargo.toml bench/
RUN for crate in shared-events platform system-tests test-support bench \
        services/accounts services/orders services/fulfillment; do \
      mkdir -p "$crate/src" && : > "$crate/src/lib.rs"; \
    done \
 && for service in accounts orders fulfillment; do \
      echo 'fn main() {}' > "services/$service/src/main.rs"; \
    done \
 && cargo build --release --locked -p accounts -p orders -p fulfillment

COPY shared-events shared-events
COPY platform platform
COPY services services
# actuator/info reports the commit; the build context has no .git, so platform/build.rs reads
# it from this variable: --build-arg STOREFRONT_GIT_COMMIT=$(git rev-parse --short=12 HEAD).
ARG STOREFRONT_GIT_COMMIT=unknown
# COPY keeps the files' original modification times, which are older than the empty targets
# compiled above; without the touch cargo would consider those targets fresh and keep them.
RUN find shared-events platform services -type f -exec touch {} + \
 && cargo build --release --locked -p accounts -p orders -p fulfillment

# Declared after the build so that the layers above are the same for all three images.
FROM build AS service
ARG SERVICE
RUN case "$SERVICE" in \
      accounts|orders|fulfillment) cp "target/release/$SERVICE" /service ;; \
      *) echo "build with --build-arg SERVICE=accounts|orders|fulfillment (got '$SERVICE')" >&2; exit 1 ;; \
    esac

# The load generator (storefront-bench load) for k8s/loadgen's Job and compose's loadgen profile:
#   docker build --target loadgen -t storefront/loadgen:0.1.0 .
# On top of the services' build, with exactly the command of scripts/bench.sh (checked by
# scripts/check-deploy.sh); a service image never builds this stage.
FROM build AS loadgen-build
COPY test-support test-support
COPY bench bench
RUN find test-support bench -type f -exec touch {} + \
 && cargo build --release --locked -p storefront-bench

FROM gcr.io/distroless/cc-debian12:nonroot AS loadgen
LABEL org.opencontainers.image.title="storefront-loadgen" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=loadgen-build /src/target/release/storefront-bench /usr/local/bin/storefront-bench
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/storefront-bench", "load"]

# The services' runtime image, the last stage (what a build without --target makes).
# The statically linked (musl) busybox, installed under the name wget so that it runs only its
# wget applet: the compose health checks need an HTTP client and distroless has none.
FROM busybox:1.37.0-musl AS wget

# glibc, libgcc and libssl (librdkafka and zlib are linked in), CA certificates, no shell, no
# package manager; the nonroot variant runs as uid 65532. scripts/check-deploy.sh runs each
# release binary in a folder of exactly this image's Debian packages.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG SERVICE
LABEL org.opencontainers.image.title="storefront-${SERVICE}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=wget /bin/busybox /usr/local/bin/wget
COPY --from=service /service /usr/local/bin/service
# production listens on 0.0.0.0:8080 (configuration/production.toml of each service).
ENV APP_ENVIRONMENT=production
# Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/service"]
