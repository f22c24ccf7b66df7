#!/usr/bin/env bash
# Install Debian's chromium for the headless browser test (make browser-test).
# Idempotent: exits 0 at once when chromium is already on PATH.
set -euo pipefail
# shellcheck source=scripts/lib-apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-apt.sh"

apt_install_for chromium chromium fonts-dejavu-core
