#!/usr/bin/env bash
# Make sure Debian's chromium is installed, for the dashboard's browser test (Playwright drives it through
# executable_path; `playwright install` is never run: its CDN is not reachable from here).
# Exit 0 when chromium is (now) installed; non-zero, with the command to run, when it cannot be installed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

install=(apt-get install -y --no-install-recommends chromium)
if [[ $(id -u) -eq 0 ]]; then
    prefix=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    prefix=(sudo -n)
else
    echo "chromium is not installed and this user cannot install it; run as root: ${install[*]}" >&2
    exit 2
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${prefix[@]}" "${install[@]}"; then
    # The package lists may be missing or stale (a fresh container): refresh them once and retry.
    "${prefix[@]}" apt-get update
    "${prefix[@]}" "${install[@]}"
fi
command -v chromium >/dev/null 2>&1 || { echo "apt-get finished but chromium is not on PATH" >&2; exit 1; }
