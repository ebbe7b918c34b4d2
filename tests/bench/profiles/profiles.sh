#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# profiles.sh — RSS and CPU of `phantomguard run` on each profile against the default config
# (tests/bench/profiles/profiles.py; figures in docs/performance.md, "Profiles").
# Usage: tests/bench/profiles/profiles.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
exec python3 "$(dirname "$0")/profiles.py" --binary "$build/bin/phantomguard"
