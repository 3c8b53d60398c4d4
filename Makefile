# The two entry points of the README, and what CI runs.
#   make run    builds Telltale and starts `telltale standalone` on its embedded default
#               (make run LISTEN=127.0.0.1:9190 when 9090 is taken, e.g. by Debian's
#               `prometheus` service)
#   make test   formatting, lints and every test (unit, integration, e2e)
# Each installs the Debian packages it needs first: `make run` only what building and
# running need, `make test` also the test tools (scripts/install-deps.sh, scripts/deps/).

# One warm target directory outside the clone, shared by every checkout and by CI.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/telltale-target
export CARGO_BUILD_JOBS ?= 2
# No incremental caches: builds here start from a warm target directory, and the caches
# grew it by 20 GB a run.
export CARGO_INCREMENTAL ?= 0

# The HTTP address of `make run`.
LISTEN ?= 127.0.0.1:9090

.PHONY: deps-run deps-test run test build crds bench bench-storage bench-query bench-scrape bench-history bench-histograms

deps-run:
	@scripts/install-deps.sh run

deps-test:
	@scripts/install-deps.sh test

run: deps-run
	cargo run --release --bin telltale -- standalone --listen $(LISTEN)

build: deps-run
	cargo build --release --bin telltale

# Clippy checks every target before the test build; both share one build of RocksDB's
# C++ (see `[profile.dev.build-override]` in Cargo.toml).
test: deps-test
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

# Regenerates the committed CRD YAML from the Rust types (and the chart's copy).
crds:
	cargo run --quiet --bin telltale -- crds > crds/telltale.dev.yaml
	cp crds/telltale.dev.yaml charts/telltale/crds/telltale.dev.yaml

# The storage benchmark of the README (fixed, seeded workload; compares with promtool).
bench-storage: deps-test
	cargo run --release -p telltale-replica --bin telltale-storage-bench -- --prometheus

# The query benchmark of the README: dashboard queries against Telltale and Prometheus
# 2.42 loaded with the same seeded data, in one run.
bench-query: deps-test
	cargo bench -p telltale-query --features bench --bench query-vs-prometheus

# The collection benchmark of the README (parse throughput; one scraper replica against
# Prometheus 2.42 on the same synthetic targets).
bench-scrape: deps-test
	cargo build --release --bin telltale
	cargo run --release -p telltale-scraper --bin telltale-scrape-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale

# The benchmark of issue 15: the telltale release binary (standalone and dev-cluster) and
# Prometheus 2.42 fed the same workload in one run, ratios printed, JSON in BENCH_OUT.
# Arguments in BENCH_ARGS (e.g. BENCH_ARGS="--only ingest,query --repetitions 1").
BENCH_OUT ?= $(CARGO_TARGET_DIR)/telltale-bench.json
bench: deps-test
	cargo build --release --bin telltale
	cargo run --release -p telltale-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale --out $(BENCH_OUT) $(BENCH_ARGS)

# The history benchmark of the README (issue 21): months of the storage workload in
# `telltale standalone`, days moved to a cold tier in a real S3 API server (moto), the
# same dashboards before and after, `telltale backup` and `restore`. JSON in
# HISTORY_OUT; arguments in BENCH_ARGS (e.g. BENCH_ARGS="--history-series 500").
HISTORY_OUT ?= $(CARGO_TARGET_DIR)/telltale-bench-history.json
bench-history: deps-test
	cargo build --release --bin telltale
	cargo run --release -p telltale-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale --only history --repetitions 1 --out $(HISTORY_OUT) $(BENCH_ARGS)

# The native histogram benchmark of the README (issue 19): a day of 1,000 seeded latency
# histograms (schema 3) through remote_write 1.0 into `telltale standalone` and into
# Prometheus 2.42 with --enable-feature=native-histograms, one after the other: ingest
# CPU, peak RSS and bytes on disk per histogram sample, and the ratios. JSON in
# HISTOGRAMS_OUT; arguments in BENCH_ARGS (e.g. BENCH_ARGS="--histogram-series 500").
HISTOGRAMS_OUT ?= $(CARGO_TARGET_DIR)/telltale-bench-histograms.json
bench-histograms: deps-test
	cargo build --release --bin telltale
	cargo run --release -p telltale-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale --only histograms --out $(HISTOGRAMS_OUT) $(BENCH_ARGS)
