#!/usr/bin/env bash
# Install xmllint (Debian's libxml2-utils) for the JUnit schema tests
# (reporters: junit.xml checked against the Jenkins and the Ant XSDs).
# make test runs it before the unit tests; without xmllint those tests fail.
# Idempotent: exits 0 at once when xmllint is already on PATH.
set -euo pipefail

if command -v xmllint >/dev/null 2>&1; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-xmllint: need root (or sudo) to apt-get install libxml2-utils" >&2
		exit 1
	fi
fi

echo "installing xmllint (libxml2-utils) from Debian's packages..."
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends libxml2-utils
command -v xmllint >/dev/null 2>&1 || { echo "install-xmllint: xmllint still not on PATH" >&2; exit 1; }
echo "xmllint installed: $(command -v xmllint)"
