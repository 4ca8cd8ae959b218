# kamaji-telemetry: one static (musl) binary, the default plugin embedded, on
# an empty base. Build from the repository root:
#
#   docker build -t ghcr.io/clastix/kamaji-telemetry:v0.1.0 .     (or: make image)
#
# The image holds the binary, the CA roots (for HTTPS to the telemetry
# endpoint) and nothing else: no shell, no package manager, no libc.

FROM docker.io/library/rust:1.95 AS build
# musl-tools: ring's C and assembly for the musl target.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
# wasm32-unknown-unknown: cargo builds the default plugin to embed it
# (guest/component/build.rs).
RUN rustup target add wasm32-unknown-unknown x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# Stripped here: the symbols the release profile keeps are for profiling.
RUN CARGO_PROFILE_RELEASE_STRIP=true cargo build --locked --release -p kamaji-telemetry --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/kamaji-telemetry /kamaji-telemetry

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /kamaji-telemetry /kamaji-telemetry
# The numeric user of the manifests' securityContext: non-root, no passwd needed.
USER 65532:65532
ENTRYPOINT ["/kamaji-telemetry"]
CMD ["serve"]
