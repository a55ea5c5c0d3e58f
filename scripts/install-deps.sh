#!/usr/bin/env bash
# Installs what nixyard's tests and benchmarks need on a fresh Debian 12 machine, and nothing
# when it is all there: Nix (single-user, no daemon), a Docker engine, skopeo, podman, RabbitMQ
# (the queue tests start private brokers on loopback; Debian's own service is left alone), a static
# busybox (e2e fixture images) and Debian's arm64 one (the aarch64 demo set, through
# scripts/fetch-arm64-busybox.sh), the reference registry (benchmarks), git, curl, wrk, Debian's
# chromium (browser test of the web pages, driven by playwright-core), Prometheus (the metrics test), the GCS emulator
# fake-gcs-server (built with Go), what the demo set's language runtimes are wrapped from
# (python3.11 with venv, patchelf, binutils; Node.js is the machine's), bubblewrap (the sandbox of
# builds from application source), nixpacks (built with cargo), gcc and libdeflate (the gzip addon);
# then the npm dependencies. Safe to run again; prints what it does. Run as root or with sudo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'install-deps: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  log "run as root or install sudo" >&2
  exit 1
fi

# Debian package → how to tell it is already there. docker counts as present when its commands
# are (an engine installed another way, e.g. docker-ce, conflicts with docker.io).
is_installed() {
  case "$1" in
    docker.io) command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 ;;
    *) [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] ;;
  esac
}

# nix-setup-systemd brings /etc/nix/nix.conf (sandbox = false) and the nixbld build users; its
# daemon is not used (root talks to the store directly). chromium is the browser the web-page
# test launches (/usr/bin/chromium, headless; playwright-core downloads no browser).
# rabbitmq-server: the queue tests run /usr/lib/rabbitmq/bin/rabbitmq-server themselves, each
# with its own node name, ports on 127.0.0.1 and data directory.
# python3.11, python3.11-venv (ensurepip's wheels), python3.11-dev (its version header), patchelf
# and binutils (strip): the demo set's runtimes (nix/demo/runtimes.nix). bubblewrap: the sandbox
# in which builds from application source run their install and build commands. prometheus: the
# metrics test runs /usr/bin/prometheus itself with a private config on loopback. gcc, libc6-dev and
# libdeflate-dev: `npm run build` compiles the addon layers are gzipped with (native/).
PACKAGES=(nix-bin nix-setup-systemd docker.io skopeo podman busybox-static docker-registry git ca-certificates curl wrk chromium rabbitmq-server
  python3.11 python3.11-venv python3.11-dev patchelf binutils bubblewrap prometheus gcc libc6-dev libdeflate-dev)
missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update
  # With recommends, as the tests were run: podman needs its runtime and network helpers.
  "${SUDO[@]}" apt-get install -y "${missing[@]}"
else
  log "system packages present: ${PACKAGES[*]}"
fi

# --- arm64 busybox (the aarch64 demo set) -------------------------------------------------
# Debian's busybox-static for arm64, fetched with a private apt state (the host's dpkg
# architectures and apt lists are left alone); a no-op when it is installed.
bash scripts/fetch-arm64-busybox.sh

# --- Nix, single-user as root -------------------------------------------------------------
# The tests pass their own NIX_CONFIG (no substituters: offline); global settings stay as Debian
# ships them. Make sure what a local (daemon-less) store needs is there.
if ! getent group nixbld >/dev/null; then
  log "creating the nixbld group and build users"
  "${SUDO[@]}" groupadd --force --system nixbld
  for n in $(seq 1 10); do
    id "nixbld$n" >/dev/null 2>&1 || "${SUDO[@]}" useradd --system --comment "Nix build user $n" --home-dir /var/empty \
      --gid nixbld --groups nixbld --no-user-group --shell /usr/sbin/nologin "nixbld$n"
  done
fi
for dir in /nix/store /nix/var/nix/gcroots/per-user /nix/var/nix/profiles/per-user; do
  [ -d "$dir" ] || { log "creating $dir"; "${SUDO[@]}" mkdir -p "$dir"; }
done
if [ "${NIX_REMOTE:-}" = daemon ] && [ ! -S /nix/var/nix/daemon-socket/socket ]; then
  log "NIX_REMOTE=daemon but no nix-daemon runs: unset NIX_REMOTE to use the store directly" >&2
fi

nix_check_config=$'substituters =\nexperimental-features = nix-command'
log "$(nix-build --version)"
two="$(NIX_CONFIG="$nix_check_config" nix-instantiate --eval -E '1 + 1')"
if [ "$two" != 2 ]; then
  log "nix-instantiate --eval -E '1 + 1' printed '$two', expected 2" >&2
  exit 1
fi
# A trivial build proves the store is writable and the build users work (instant once built).
out="$(NIX_CONFIG="$nix_check_config" nix-build --no-out-link -E \
  'derivation { name = "nixyard-nix-check"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ok > $out" ]; }')"
log "nix works (eval and build: $out)"

# --- GCS emulator (storage tests) ---------------------------------------------------------
# fsouza/fake-gcs-server, pinned, built with the machine's Go through the Go module proxy.
FAKE_GCS_VERSION=v1.56.1
if ! command -v fake-gcs-server >/dev/null 2>&1; then
  if ! command -v go >/dev/null 2>&1; then
    log "go is needed to install fake-gcs-server (Go >= 1.24 from go.dev; Debian 12's golang is too old)" >&2
    exit 1
  fi
  log "go install github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION (into /usr/local/bin)"
  "${SUDO[@]}" env "PATH=$PATH" GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
else
  log "fake-gcs-server present ($(command -v fake-gcs-server))"
fi

# --- SBOM tools (the tests read nixyard's SBOMs with them) ---------------------------------
# oras (OCI artifacts and the referrers API), pinned, built with the machine's Go.
ORAS_VERSION=v1.3.6
if [ "$(oras version 2>/dev/null | sed -n 's/^Version: *//p')" != "${ORAS_VERSION#v}" ]; then
  log "go install oras.land/oras/cmd/oras@$ORAS_VERSION (into /usr/local/bin)"
  "${SUDO[@]}" env "PATH=$PATH" GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install "oras.land/oras/cmd/oras@$ORAS_VERSION"
else
  log "oras present ($(command -v oras))"
fi
# syft (reads images and writes SBOMs; the tests compare its Nix packages with nixyard's), pinned.
SYFT_VERSION=v1.57.2
# (`go install` leaves syft's own version unset: the module version is read from the binary.)
if ! command -v syft >/dev/null 2>&1 || [ "$(go version -m "$(command -v syft)" | awk '$1 == "mod" { print $3 }')" != "$SYFT_VERSION" ]; then
  log "go install github.com/anchore/syft/cmd/syft@$SYFT_VERSION (into /usr/local/bin; a few minutes)"
  "${SUDO[@]}" env "PATH=$PATH" GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
else
  log "syft present ($(command -v syft))"
fi
# The OCI distribution-spec conformance suite (a Go test binary, built once with go test -c), pinned.
OCI_CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111
OCI_CONFORMANCE_DIR=/usr/local/lib/nixyard/oci-conformance
if [ "$(cat "$OCI_CONFORMANCE_DIR/version" 2>/dev/null)" != "$OCI_CONFORMANCE_VERSION" ] || [ ! -x /usr/local/bin/oci-conformance ]; then
  log "go test -c github.com/opencontainers/distribution-spec/conformance@$OCI_CONFORMANCE_VERSION (into /usr/local/bin/oci-conformance)"
  "${SUDO[@]}" mkdir -p "$OCI_CONFORMANCE_DIR"
  printf 'module nixyard/oci-conformance\n\ngo 1.24\n' | "${SUDO[@]}" tee "$OCI_CONFORMANCE_DIR/go.mod" >/dev/null
  (cd "$OCI_CONFORMANCE_DIR" && "${SUDO[@]}" env "PATH=$PATH" GOFLAGS=-mod=mod go get "github.com/opencontainers/distribution-spec/conformance@$OCI_CONFORMANCE_VERSION" \
    && "${SUDO[@]}" env "PATH=$PATH" GOFLAGS=-mod=mod go test -c github.com/opencontainers/distribution-spec/conformance -o /usr/local/bin/oci-conformance)
  echo "$OCI_CONFORMANCE_VERSION" | "${SUDO[@]}" tee "$OCI_CONFORMANCE_DIR/version" >/dev/null
else
  log "oci-conformance present (/usr/local/bin/oci-conformance)"
fi
# spdx-tools (pyspdxtools validates SPDX documents), pinned, in a venv of Debian's Python 3.11.
SPDX_TOOLS_VERSION=0.8.5
SPDX_VENV=/usr/local/lib/nixyard/spdx-tools
if ! "$SPDX_VENV/bin/pip" show spdx-tools 2>/dev/null | grep -qx "Version: $SPDX_TOOLS_VERSION"; then
  log "pip install spdx-tools==$SPDX_TOOLS_VERSION (into $SPDX_VENV, pyspdxtools in /usr/local/bin)"
  "${SUDO[@]}" /usr/bin/python3.11 -m venv "$SPDX_VENV"
  "${SUDO[@]}" "$SPDX_VENV/bin/pip" install --quiet "spdx-tools==$SPDX_TOOLS_VERSION"
  "${SUDO[@]}" ln -sf "$SPDX_VENV/bin/pyspdxtools" /usr/local/bin/pyspdxtools
else
  log "spdx-tools present ($SPDX_VENV)"
fi

# --- nixpacks (plans of builds from application source) ------------------------------------
# The real nixpacks, pinned, built with the machine's Rust (a few minutes, once); `nixpacks plan`
# runs offline.
NIXPACKS_VERSION=1.41.0
if [ "$(nixpacks --version 2>/dev/null)" != "nixpacks $NIXPACKS_VERSION" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    log "cargo is needed to install nixpacks $NIXPACKS_VERSION (Rust from rustup.rs)" >&2
    exit 1
  fi
  log "cargo install nixpacks --version $NIXPACKS_VERSION --locked (into /usr/local/bin; a few minutes)"
  "${SUDO[@]}" env "PATH=$PATH" cargo install nixpacks --version "$NIXPACKS_VERSION" --locked --root /usr/local
else
  log "nixpacks $NIXPACKS_VERSION present ($(command -v nixpacks))"
fi

# --- node dependencies --------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node and npm are needed (node >= 20.19; Debian 12's nodejs is too old)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci (node $(node --version))"
  npm ci --no-audit --no-fund
else
  log "node_modules up to date with package-lock.json"
fi
log "done"
