# One container per node.
# Build:  docker build -t arc-agent .
# Run:    docker run -p 8080:8080 -e ARC__NATS__URL=nats://nats:4222 \
#           -e ARC__PULSAR__URL=pulsar://pulsar:6650 -v arc-data:/var/lib/arc arc-agent
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin arc-agent

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/arc arc \
 && mkdir -p /var/lib/arc \
 && chown arc:arc /var/lib/arc
COPY --from=build /src/target/release/arc-agent /usr/local/bin/arc-agent
USER arc
# The spool of undelivered Pulsar events lives here: keep it on a volume.
ENV ARC__NODE__DATA_DIR=/var/lib/arc \
    ARC__HTTP__LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/arc"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["arc-agent"]
CMD ["serve"]
