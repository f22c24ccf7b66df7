# shellcheck shell=bash
# scripts/lib-apt.sh — sourced by the install-*.sh scripts: install Debian
# packages for a command the tests need, once.
#
# apt_install_for CMD PACKAGE... exits 0 at once when CMD is on PATH;
# otherwise it runs apt-get update and apt-get install of the packages (as
# root, or with sudo), and fails unless CMD is on PATH afterwards. It sets
# SUDO for the caller's own follow-up commands, and APT_INSTALLED=1 when
# it installed something. The caller's name (for
# messages) is the sourcing script's.

apt_install_for() {
	local cmd=$1 name
	shift
	name=$(basename "$0" .sh)
	if command -v "$cmd" >/dev/null 2>&1; then
		echo "$cmd already installed: $(command -v "$cmd")"
		return 0
	fi
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			SUDO="sudo"
		else
			echo "$name: need root (or sudo) to apt-get install $*" >&2
			exit 1
		fi
	fi
	echo "installing $cmd ($*) from Debian's packages..."
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "$@"
	command -v "$cmd" >/dev/null 2>&1 || { echo "$name: $cmd still not on PATH" >&2; exit 1; }
	echo "$cmd installed: $(command -v "$cmd")"
	# shellcheck disable=SC2034 # read by the caller
	APT_INSTALLED=1
}
