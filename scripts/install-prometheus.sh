#!/usr/bin/env bash
# Install Debian's prometheus for the push test (internal/push: remote-write
# into a real Prometheus on loopback). `make test` runs this first.
# Idempotent: exits 0 at once when prometheus is already on PATH. Installing
# the package does not leave a server running: the Debian service is stopped
# and disabled where systemd runs; the test starts its own on a free port.
set -euo pipefail
# shellcheck source=scripts/lib-apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-apt.sh"

APT_INSTALLED=0
apt_install_for prometheus prometheus
[ "$APT_INSTALLED" = 1 ] || exit 0
# The package may start its service (port 9090, where invoke-rc.d allows it): the
# tests need only the binary, so stop the service this install started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
	$SUDO service prometheus stop >/dev/null 2>&1 || true
fi
prometheus --version 2>&1 | head -1
