#!/usr/bin/env bash
# Install xmllint (Debian's libxml2-utils) for the JUnit schema tests
# (reporters: junit.xml checked against the Jenkins and the Ant XSDs).
# make test runs it before the unit tests; without xmllint those tests fail.
# Idempotent: exits 0 at once when xmllint is already on PATH.
set -euo pipefail
# shellcheck source=scripts/lib-apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-apt.sh"

apt_install_for xmllint libxml2-utils
