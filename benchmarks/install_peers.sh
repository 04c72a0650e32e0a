#!/usr/bin/env bash
# Install the software torus is benchmarked against, from Debian's packages.
#
#   bash benchmarks/install_peers.sh
#
# Idempotent: installs only what is missing and runs `apt-get update` only when a
# missing package has no install candidate or the install fails on stale lists.
# Packaged services are kept from starting (a policy-rc.d that refuses every start
# is put in place for the install when the machine has none): the benchmark starts
# its own servers on free 127.0.0.1 ports and would not want carbon-cache, influxd
# or victoria-metrics running beside it.
set -euo pipefail

PACKAGES=(graphite-carbon python3-whisper graphite-web python3-gunicorn influxdb victoria-metrics wrk)
POLICY=/usr/sbin/policy-rc.d

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_peers: all installed (${PACKAGES[*]})"
  exit 0
fi
echo "install_peers: installing ${missing[*]}"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install_peers: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi

if [ ! -e "$POLICY" ]; then
  "${SUDO[@]}" sh -c "printf '#!/bin/sh\n# put here by benchmarks/install_peers.sh\nexit 101\n' > $POLICY \
    && chmod 755 $POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
}
apt_update() {
  echo "install_peers: apt-get update"
  "${SUDO[@]}" apt-get update -q
}

needs_update=0
for package in "${missing[@]}"; do
  candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    needs_update=1
  fi
done
if [ "$needs_update" -eq 1 ]; then apt_update; fi
if ! apt_install; then
  apt_update   # lists older than the mirror: the .deb files moved
  apt_install
fi

for package in "${PACKAGES[@]}"; do
  installed "$package" || { echo "install_peers: $package did not install" >&2; exit 1; }
done
echo "install_peers: done"
