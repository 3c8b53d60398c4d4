#!/usr/bin/env bash
# Installs what building and testing Telltale needs on Debian, once: each package is
# installed only when it is missing, so running this again does nothing.
#   libclang-dev        RocksDB's Rust bindings (bindgen)
#   protobuf-compiler   protoc, for the gRPC contract (tonic-build)
#   prometheus          promtool, the reference client the e2e tests query with
#   prometheus-node-exporter   a real scrape target for the e2e tests
#   prometheus-alertmanager    amtool, the reference client of the Alertmanager v2 API
#   python3-aiosmtpd    a real SMTP server for the email receiver tests
#   chromium chromium-driver   headless browser + WebDriver for the UI's browser tests
set -euo pipefail

packages=(libclang-dev protobuf-compiler prometheus prometheus-node-exporter
  prometheus-alertmanager python3-aiosmtpd build-essential chromium chromium-driver)

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

# The web UI is built with npm at build time (ui/build.rs). Any Node >= 18 with npm will
# do; Debian's packages are installed only when no npm is on the PATH.
if ! command -v npm >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# Debian's packages start their daemons where an init system runs; the tests start their
# own on free ports, so a packaged instance is not needed (and not touched).
for tool in rustfmt clippy-driver; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    rustup component add rustfmt clippy
    break
  fi
done

# The Python test tools (kmock, kubernetes-validate, helm-python-sdk) of the operator and
# chart tests, in a venv outside the clone; reinstalled only when the requirements change.
venv="${HOME}/.cache/telltale-venv"
requirements="$(cd "$(dirname "$0")" && pwd)/requirements-test.txt"
if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" \
  && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$venv/.requirements-test.txt"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements-test.txt"
fi
