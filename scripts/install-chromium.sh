#!/usr/bin/env bash
# Install Debian's chromium for the headless browser test (make browser-test).
# Idempotent: exits 0 at once when chromium is already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	echo "chromium already installed: $(command -v chromium)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-chromium: need root (or sudo) to apt-get install chromium" >&2
		exit 1
	fi
fi

echo "installing chromium from Debian's packages..."
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: chromium still not on PATH" >&2; exit 1; }
echo "chromium installed: $(command -v chromium)"
