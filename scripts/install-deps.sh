#!/usr/bin/env bash
# Installs what building and testing Telltale needs on Debian, once: each package is
# installed only when it is missing, so running this again does nothing.
#   libclang-dev        RocksDB's Rust bindings (bindgen)
#   protobuf-compiler   protoc, for the gRPC contract (tonic-build)
#   prometheus          promtool, the reference client the e2e tests query with
#   prometheus-node-exporter   a real scrape target for the e2e tests
#   prometheus-alertmanager    amtool, the reference client of the Alertmanager v2 API
#   python3-aiosmtpd    a real SMTP server for the email receiver tests
set -euo pipefail

packages=(libclang-dev protobuf-compiler prometheus prometheus-node-exporter
  prometheus-alertmanager python3-aiosmtpd build-essential)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's packages start their daemons where an init system runs; the tests start their
# own on free ports, so a packaged instance is not needed (and not touched).
for tool in rustfmt clippy-driver; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    rustup component add rustfmt clippy
    break
  fi
done
