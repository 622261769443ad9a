#!/usr/bin/env bash
# Installs the pinned kustomize into <repo>/.tools/bin (gitignored) with the Go toolchain,
# from the Go module proxy, once; later runs reuse the binary if its version matches.
# Prints the binary's path on stdout. Used by tests/deploy (and by hand: `kubectl apply -k`
# works too, but renders with whatever kustomize kubectl embeds).
set -euo pipefail

KUSTOMIZE_VERSION="v5.8.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo}/.tools/bin"
binary="${bin_dir}/kustomize"

if [[ -x "${binary}" ]] && "${binary}" version 2>/dev/null | grep -qF "${KUSTOMIZE_VERSION}"; then
  echo "${binary}"
  exit 0
fi

command -v go >/dev/null || { echo "install-kustomize: the Go toolchain (go) is required" >&2; exit 1; }
mkdir -p "${bin_dir}"
# Said on stderr (stdout is the path): this is the one slow step, and otherwise silent.
echo "install-kustomize: building kustomize ${KUSTOMIZE_VERSION} with Go into ${bin_dir}" \
  "(first run only: fetches its modules and compiles, about a minute on 2 cores)" >&2
start="${SECONDS}"
# `kustomize version` reads the module version from the binary's build info.
GOBIN="${bin_dir}" go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
echo "install-kustomize: done in $((SECONDS - start)) s" >&2
echo "${binary}"
