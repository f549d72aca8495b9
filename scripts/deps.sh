# Shared by scripts/test and scripts/demo: installs the Debian packages
# earlymod needs to build and test, when they are missing.
# Usage: . scripts/deps.sh; ensure_packages pkg...

ensure_packages() {
	missing=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	echo "Installing Debian packages:$missing"
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
	elif command -v sudo >/dev/null 2>&1; then
		sudo apt-get update -qq
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
	else
		echo "error: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
}

# What building and testing earlymod needs.
BUILD_PACKAGES="meson ninja-build g++ musl-dev musl-tools doctest-dev pkg-config"
TEST_PACKAGES="kmod python3 xz-utils zstd gzip e2fsprogs btrfs-progs gcc pkg-config clang-format-14 qemu-system-x86 busybox-static chromium groff-base
	dracut-core initramfs-tools-core cpio valgrind"
BENCH_PACKAGES="hyperfine time"
