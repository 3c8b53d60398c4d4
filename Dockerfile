# The one `telltale` image: every pod of a MetricCluster and the operator run it with a
# different subcommand (`telltale storage|scraper|query|alertmanager|operator`).
#
#   docker build -t telltale:dev .
#
# Stage 1 builds the release binary; RocksDB's bindings need libclang, the gRPC contract
# needs protoc. Stage 2 is a slim Debian with the binary, a shell (the storage pods'
# entrypoint derives the Raft replica id from the pod name) and CA certificates (outgoing
# HTTPS notifications), running as an unprivileged user.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev clang protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin telltale \
 && install -D -m 0755 target/release/telltale /out/telltale

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 telltale \
 && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin telltale \
 && install -d -o 65532 -g 65532 /data
COPY --from=build /out/telltale /usr/local/bin/telltale
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# query, storage (HTTP), scraper, alertmanager, operator, storage (gRPC)
EXPOSE 9090 9091 9092 9093 9094 9095
ENTRYPOINT ["telltale"]
CMD ["standalone"]
