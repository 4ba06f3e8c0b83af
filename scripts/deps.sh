#!/usr/bin/env bash
# Installs every Debian package that building, running and testing Warren needs; skips what is present.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build ccache pkg-config make
  libboost-dev librabbitmq-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libsqlite3-dev libpqxx-dev libgtest-dev libgmock-dev libbenchmark-dev
  # the stack
  rabbitmq-server
  # the PostgreSQL store tests run a real server
  postgresql
  # time zones for periodic jobs (/usr/share/zoneinfo)
  tzdata
  # tests and scripts
  python3 python3-pika python3-yaml curl procps iproute2 ca-certificates
  # the dashboard's browser test: Debian's chromium driven by playwright-core (npm, tests/browser)
  nodejs npm chromium
  # make fuzz: clang with libFuzzer and its sanitizer runtimes (the fuzz preset)
  clang libclang-rt-14-dev
  # side-by-side benchmarks (bench/system): the demo and Celery baselines, the HTTP load, the plots
  python3-flask python3-celery gunicorn wrk gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  # Node.js from another source (NodeSource's nodejs bundles npm and conflicts with Debian's) will do.
  if { [ "$p" = nodejs ] && command -v node >/dev/null; } || { [ "$p" = npm ] && command -v npm >/dev/null; }; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "deps: missing packages (${missing[*]}) and not root: run 'make deps' as root" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the package from starting a system-wide broker: Warren runs its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
