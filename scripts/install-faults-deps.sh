#!/usr/bin/env bash
# Installs what the process-level fault tests (make faults) need and this
# machine lacks: iptables (TestBlackout drops the coordinator's packets)
# and iproute2's ip (network namespaces, veth pairs, a bridge). Idempotent:
# with both present it installs nothing and exits 0. It installs with
# apt-get (Debian/Ubuntu) and only as root; otherwise it says what is
# missing and exits 0, and the tests that need the tools skip.
set -euo pipefail

missing=()
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || missing+=(iptables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-faults-deps: iptables and ip are present; nothing to install"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-faults-deps: missing ${missing[*]}; not root, installing nothing (the tests that need them skip)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-faults-deps: missing ${missing[*]}; no apt-get here, installing nothing (the tests that need them skip)"
	exit 0
fi
echo "install-faults-deps: apt-get update"
apt-get update -qq
echo "install-faults-deps: apt-get install -y --no-install-recommends ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-faults-deps: installed ${missing[*]}"
