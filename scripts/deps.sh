#!/usr/bin/env bash
# Installs the Debian packages tsloop's build and tests need, if any is missing.
# Idempotent. As root it runs apt-get; otherwise it prints the exact command and exits 1.
#   scripts/deps.sh           build + unit/integration tests
#   scripts/deps.sh --bench   also R's forecast package, for the side-by-side benchmarks
#   scripts/deps.sh --fuzz    also clang, for the libFuzzer builds
set -euo pipefail

packages=(gcc make cmake pkg-config libnlopt-dev libarchive-dev zlib1g-dev libjansson-dev
          libsqlite3-dev libyaml-dev libsodium-dev libxgboost-dev libcmocka-dev
          libmicrohttpd-dev libcurl4-openssl-dev curl python3 gzip zip openssl tzdata)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(r-cran-forecast time wrk) ;;
    --fuzz) packages+=(clang) ;;
    *) echo "deps.sh: unknown option '$arg' (expected --bench or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "deps.sh: run as root: apt-get update && $cmd" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $cmd >/tmp/tsloop-deps.log 2>&1; then
  apt-get update >>/tmp/tsloop-deps.log 2>&1
  $cmd >>/tmp/tsloop-deps.log 2>&1 || { cat /tmp/tsloop-deps.log >&2; exit 1; }
fi
