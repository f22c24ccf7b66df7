#!/usr/bin/env bash
# Install Debian's prometheus for the push test (internal/push: remote-write
# into a real Prometheus on loopback). `make test` runs this first.
# Idempotent: exits 0 at once when prometheus is already on PATH. Installing
# the package does not leave a server running: the Debian service is stopped
# and disabled where systemd runs; the test starts its own on a free port.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
	echo "prometheus already installed: $(command -v prometheus)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-prometheus: need root (or sudo) to apt-get install prometheus" >&2
		exit 1
	fi
fi

echo "installing prometheus from Debian's packages..."
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus
# The package may start its service (port 9090, where invoke-rc.d allows it): the
# tests need only the binary, so stop the service this install started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
	$SUDO service prometheus stop >/dev/null 2>&1 || true
fi
command -v prometheus >/dev/null 2>&1 || { echo "install-prometheus: prometheus still not on PATH" >&2; exit 1; }
echo "prometheus installed: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
