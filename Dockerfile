# The one `telltale` image: every pod of a MetricCluster and the operator run it with a
# different subcommand (`telltale storage|scraper|query|alertmanager|operator`).
#
#   docker build -t telltale:dev .
#
# Stage 1 builds the web UI and the release binary: the packages of scripts/deps/run.txt
# (RocksDB's bindings need libclang, the gRPC contract protoc, the UI Node and npm —
# Debian's Node 18 will do). The UI is built in a step of its own (the npm steps
# ui/build.rs would run), cached until ui/web changes, and embedded as built
# (TELLTALE_UI_DIST). Stage 2 is a slim Debian with the binary, a shell (the storage
# pods' entrypoint derives the Raft replica id from the pod name) and CA certificates
# (outgoing HTTPS notifications), running as an unprivileged user.
#
# `cargo test --test dockerfile` checks this stage: with `docker build` where a Docker
# daemon runs, else by running its steps in a plain shell (see e2e/dockerfile.rs).

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev clang protobuf-compiler nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY ui/web ui/web
RUN cd ui/web \
 && npm ci --no-audit --no-fund --loglevel=error \
 && npm run build -- --outdir /out/ui
COPY . .
ENV TELLTALE_UI_DIST=/out/ui
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
