# syntax=docker/dockerfile:1
# careflow's container image: the one `careflow` binary (every role: `careflow serve --only …`,
# `careflow migrate`), on a distroless runtime with no shell, as user 10001.
#
#   docker build -t careflow:dev .
#
# The web app (web/), the assessment templates (domain/templates/) and the protobuf contracts
# (proto/, compiled by protox: no protoc) are built into the binary, so the binary is all the
# runtime image holds. Used by k8s/ (see k8s/README.md).

# The workspace's toolchain (Cargo.toml: rust-version 1.90; built and tested with 1.95).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# 1. The dependencies alone, in a layer that is rebuilt only when a manifest, Cargo.lock or a
#    .proto changes: the workspace's manifests with empty crates in place of our sources.
#    Then our own (empty) crates are forgotten, so the real ones below are always rebuilt
#    whatever the sources' timestamps; the third-party crates stay built.
COPY Cargo.toml Cargo.lock ./
COPY proto/Cargo.toml proto/build.rs proto/
COPY proto/careflow proto/careflow
COPY domain/Cargo.toml domain/
COPY eventstore/Cargo.toml eventstore/
COPY auth/Cargo.toml auth/
COPY services/Cargo.toml services/
COPY workflows/Cargo.toml workflows/
COPY projections/Cargo.toml projections/
COPY graphql/Cargo.toml graphql/
COPY loadtest/Cargo.toml loadtest/
RUN set -eux; \
    for crate in proto domain eventstore auth services workflows projections graphql loadtest; do \
        mkdir -p "$crate/src"; : > "$crate/src/lib.rs"; \
    done; \
    mkdir -p src; : > src/lib.rs; echo 'fn main() {}' > src/main.rs; \
    cargo build --release --locked --bin careflow; \
    rm -rf target/release/.fingerprint/careflow* target/release/build/careflow* \
        target/release/deps/careflow* target/release/deps/libcareflow* target/release/careflow*

# 2. careflow itself; and the embedded (SQLite) run's data folder, to be owned by the runtime
#    user, so that `docker run` without --store postgres works too (unused on Kubernetes).
COPY . .
RUN set -eux; \
    cargo build --release --locked --bin careflow; \
    install -D -m 0755 target/release/careflow /out/careflow; \
    mkdir -p /out/data

# glibc and libgcc of Debian 12, CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/careflow /usr/local/bin/careflow
COPY --from=builder --chown=10001:10001 /out/data /data
# Listen on the container's address, not the loopback only (k8s sets the same explicitly).
ENV CAREFLOW_GRPC_ADDR=0.0.0.0:50051 \
    CAREFLOW_HTTP_ADDR=0.0.0.0:8080 \
    CAREFLOW_DATA_DIR=/data
USER 10001:10001
# HTTP: GraphQL, the web app, /healthz, /readyz, /metrics. gRPC: the services role.
EXPOSE 8080 50051
ENTRYPOINT ["/usr/local/bin/careflow"]
CMD ["serve"]
