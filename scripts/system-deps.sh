#!/usr/bin/env bash
# The system tools kubechat's tests (or its build) run, each with the Debian package that brings it.
# Installs what is missing when run as root (apt-get); otherwise prints the one apt-get line to run
# and exits 1. Run by `npm test` before anything else, and by `npm ci` (preinstall, `build` only:
# the zstd-napi addon compiles with make, g++ and python3).
#   scripts/system-deps.sh [test|build] [--check]     (default: test; --check never installs)
set -euo pipefail

build=(make:make g++:g++ python3:python3)
test=(
  zstd:zstd                          # bundles are read back with zstd -d
  tar:tar                            # ... and tar -t
  skopeo:skopeo                      # interop: skopeo inspect/copy on what install pushes
  /usr/bin/docker-registry:docker-registry   # the real OCI registry tests push to
  openssl:openssl                    # certificates, signatures checked by openssl
  htpasswd:apache2-utils             # registry basic-auth tests
  unshare:util-linux                 # the air-gapped flow runs inside unshare -n
  ip:iproute2                        # ... bringing up lo there
  curl:curl
  psql:postgresql-client             # the schema test reads the schema back with psql
)

check=false
[ "${2:-}" = --check ] && check=true
case "${1:-test}" in
  build) wanted=("${build[@]}") ;;
  test) wanted=("${build[@]}" "${test[@]}") ;;
  *) echo "usage: $0 [test|build]" >&2; exit 2 ;;
esac

missing=()
for pair in "${wanted[@]}"; do
  tool=${pair%%:*} package=${pair#*:}
  if [[ $tool == /* ]]; then [ -x "$tool" ] && continue; else command -v "$tool" >/dev/null && continue; fi
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

line="apt-get install -y ${missing[*]}"
if $check || [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "kubechat: missing system packages: ${missing[*]}" >&2
  echo "fix: sudo apt-get update && sudo $line" >&2
  exit 1
fi
echo "kubechat: installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >&2
