#!/usr/bin/env bash
# Installs what Telltale needs on Debian, once: each package is installed only when it is
# missing, so running this again does nothing.
#   scripts/install-deps.sh run    what building and running need (scripts/deps/run.txt)
#   scripts/install-deps.sh test   that, plus what the tests need (scripts/deps/test.txt),
#                                  rustfmt and clippy, and the tests' Python venv
set -euo pipefail

mode="${1:-test}"
case "$mode" in
  run | test) ;;
  *)
    echo "usage: $0 run|test" >&2
    exit 2
    ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"

# The package names of a list file (comments and blank lines skipped).
packages_of() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1"; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: $*" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

lists=("$here/deps/run.txt")
if [ "$mode" = test ]; then lists+=("$here/deps/test.txt"); fi

missing=()
for list in "${lists[@]}"; do
  while read -r p; do
    # Any Node with npm on the PATH will do (Debian's, NodeSource's, nvm's).
    if { [ "$p" = nodejs ] || [ "$p" = npm ]; } && command -v npm >/dev/null 2>&1; then
      continue
    fi
    if ! installed "$p"; then missing+=("$p"); fi
  done < <(packages_of "$list")
done
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

if [ "$mode" = run ]; then exit 0; fi

# Debian's packages start their daemons where an init system runs (Prometheus on 9090,
# which `make run` then cannot use: see the README); the tests start their own on free
# ports, so a packaged instance is not needed (and not touched).
for tool in rustfmt clippy-driver; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    rustup component add rustfmt clippy
    break
  fi
done

# The Python test tools (kmock, kubernetes-validate, helm-python-sdk) of the operator and
# chart tests, in a venv outside the clone; reinstalled only when the requirements change.
venv="${HOME}/.cache/telltale-venv"
requirements="$here/requirements-test.txt"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$venv/.requirements-test.txt"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements-test.txt"
fi
