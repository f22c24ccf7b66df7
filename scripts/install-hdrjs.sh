#!/usr/bin/env bash
# Installs hdr-histogram-js (HdrHistogram's JavaScript port, from the npm
# registry) into tools/hdrjs/node_modules for make reference-check.
set -euo pipefail
cd "$(dirname "$0")/../tools/hdrjs"
if [ -d node_modules/hdr-histogram-js ]; then
	exit 0
fi
if ! command -v npm >/dev/null; then
	echo "install-hdrjs: npm is needed (Debian: apt-get install -y npm)" >&2
	exit 1
fi
npm install --no-audit --no-fund --silent
