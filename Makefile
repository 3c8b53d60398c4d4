# The two entry points of the README, and what CI runs.
#   make run    builds Telltale and starts `telltale standalone` on its embedded default
#   make test   formatting, lints and every test (unit, integration, e2e)
# Both install the Debian packages they need first (scripts/install-deps.sh).

# One warm target directory outside the clone, shared by every checkout and by CI.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/telltale-target
export CARGO_BUILD_JOBS ?= 2

.PHONY: deps run test build crds bench bench-storage bench-query bench-scrape

deps:
	@scripts/install-deps.sh

run: deps
	cargo run --release --bin telltale -- standalone

build: deps
	cargo build --release --bin telltale

test: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

# Regenerates the committed CRD YAML from the Rust types (and the chart's copy).
crds:
	cargo run --quiet --bin telltale -- crds > crds/telltale.dev.yaml
	cp crds/telltale.dev.yaml charts/telltale/crds/telltale.dev.yaml

# The storage benchmark of the README (fixed, seeded workload; compares with promtool).
bench-storage: deps
	cargo run --release -p telltale-storage --bin telltale-storage-bench -- --prometheus

# The query benchmark of the README: dashboard queries against Telltale and Prometheus
# 2.42 loaded with the same seeded data, in one run.
bench-query: deps
	cargo bench -p telltale-query --features bench --bench query-vs-prometheus

# The collection benchmark of the README (parse throughput; one scraper replica against
# Prometheus 2.42 on the same synthetic targets).
bench-scrape: deps
	cargo build --release --bin telltale
	cargo run --release -p telltale-scraper --bin telltale-scrape-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale

# The benchmark of issue 15: the telltale release binary (standalone and dev-cluster) and
# Prometheus 2.42 fed the same workload in one run, ratios printed, JSON in BENCH_OUT.
# Arguments in BENCH_ARGS (e.g. BENCH_ARGS="--only ingest,query --repetitions 1").
BENCH_OUT ?= $(CARGO_TARGET_DIR)/telltale-bench.json
bench: deps
	cargo build --release --bin telltale
	cargo run --release -p telltale-bench -- --telltale $(CARGO_TARGET_DIR)/release/telltale --out $(BENCH_OUT) $(BENCH_ARGS)
