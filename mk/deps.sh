#!/bin/bash
# Installs everything the build and the tests need on a Debian 12 machine, as root, idempotently:
# Debian packages, the static musl sysroot built from Debian's source packages, and the pinned guest
# kernel package unpacked under build/. Each step leaves a stamp so a second run does nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
stamps="$build/stamps"
mkdir -p "$stamps"

log() { printf 'deps: %s\n' "$*" >&2; }

PKGS=(
	build-essential musl-tools gperf pkg-config
	protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev protobuf-compiler
	libseccomp-dev libcap-ng-dev libcmocka-dev libjson-c-dev
	qemu-system-x86 qemu-utils busybox-static e2fsprogs cpio gzip xz-utils
	golang-go golang-github-containerd-ttrpc-dev golang-github-gogo-protobuf-dev golang-google-grpc-dev
	dpkg-dev python3 iproute2 jq time crun runc cmake
)

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return 0
	apt-get update -qq
	apt_updated=1
}

install_packages() {
	local missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt-get source needs deb-src entries; derive them from the deb entries when the machine has none.
ensure_deb_src() {
	if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
		return 0
	fi
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ]; then
		sed 's/^Types: deb$/Types: deb-src/' "$f" > /etc/apt/sources.list.d/debian-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/debian-src.list
	else
		log "no apt sources found to derive deb-src entries from"; exit 1
	fi
	apt_updated=0
	apt_update
}

build_sysroot() {
	local sysroot="$build/sysroot"
	[ -f "$stamps/sysroot" ] && return 0
	ensure_deb_src
	local src="$build/src"
	rm -rf "$src" "$sysroot"
	mkdir -p "$src" "$sysroot/include" "$sysroot/lib" "$build/kheaders"
	# musl-gcc sees no kernel headers by default; hand it Debian's.
	ln -sfn /usr/include/linux "$build/kheaders/linux"
	ln -sfn /usr/include/x86_64-linux-gnu/asm "$build/kheaders/asm"
	ln -sfn /usr/include/asm-generic "$build/kheaders/asm-generic"
	local cc="musl-gcc -isystem $build/kheaders"
	(cd "$src" && apt-get source --download-only -qq protobuf-c libseccomp libcap-ng >/dev/null 2>&1) || {
		apt_updated=0; apt_update
		(cd "$src" && apt-get source --download-only -qq protobuf-c libseccomp libcap-ng >/dev/null)
	}
	local t
	for t in "$src"/*.orig.tar.gz "$src"/*.orig.tar.xz; do [ -f "$t" ] || continue; tar -xf "$t" -C "$src"; done
	log "building protobuf-c runtime (musl, static)"
	(cd "$src"/protobuf-c-*/ && CC="$cc" ./configure -q --prefix="$sysroot" --disable-protoc \
		--enable-static --disable-shared >/dev/null && make -s -j"$(nproc)" >/dev/null && make -s install >/dev/null)
	log "building libseccomp (musl, static)"
	(cd "$src"/libseccomp-*/ && CC="$cc" ./configure -q --prefix="$sysroot" --enable-static --disable-shared \
		>/dev/null && make -s -C src -j"$(nproc)" >/dev/null && make -s -C src install >/dev/null && \
		make -s -C include install >/dev/null)
	log "building libcap-ng (musl, static)"
	(cd "$src"/libcap-ng-*/ && CC="$cc" ./configure -q --prefix="$sysroot" --enable-static --disable-shared \
		--without-python --without-python3 >/dev/null && make -s -C src -j"$(nproc)" >/dev/null && \
		make -s -C src install >/dev/null)
	touch "$stamps/sysroot"
}

# json-c for the static guest build of lcrun that the in-VM lcrun suite runs (tests/vm/test-lcrun-vm.sh). Its
# own stamp, so a sysroot made before it is completed rather than rebuilt. json-c builds only with cmake.
build_sysroot_jsonc() {
	[ -f "$stamps/sysroot-jsonc" ] && return 0
	local src="$build/src" sysroot="$build/sysroot"
	mkdir -p "$src"
	rm -rf "$src"/json-c*
	(cd "$src" && apt-get source --download-only -qq json-c >/dev/null 2>&1) || {
		apt_updated=0; apt_update
		(cd "$src" && apt-get source --download-only -qq json-c >/dev/null)
	}
	local t
	for t in "$src"/json-c_*.orig.tar.*; do tar -xf "$t" -C "$src"; done
	log "building json-c (musl, static)"
	local d
	d=$(find "$src" -maxdepth 1 -type d -name 'json-c-*' | head -n1)
	rm -rf "$src/json-c.build"; mkdir -p "$src/json-c.build"
	(cd "$src/json-c.build" && CC=musl-gcc CFLAGS="-isystem $build/kheaders -Os" cmake "$d" \
		-DCMAKE_INSTALL_PREFIX="$sysroot" -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON -DDISABLE_WERROR=ON \
		-DBUILD_TESTING=OFF >/dev/null && make -s -j"$(nproc)" >/dev/null && make -s install >/dev/null)
	touch "$stamps/sysroot-jsonc"
}

# One pinned Debian kernel: the version the linux-image-amd64 metapackage points at, unpacked (never installed).
fetch_kernel() {
	[ -f "$stamps/kernel" ] && return 0
	apt_update
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1)
	[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64 to a 6.1 kernel package"; exit 1; }
	log "fetching $pkg"
	local d="$build/kernel"
	rm -rf "$d"; mkdir -p "$d/root"
	(cd "$d" && apt-get download -qq "$pkg" >/dev/null)
	dpkg-deb -x "$d"/"$pkg"_*.deb "$d/root"
	rm -f "$d"/*.deb
	local ver=${pkg#linux-image-}
	echo "$ver" > "$d/version"
	touch "$stamps/kernel"
}

install_packages
build_sysroot
build_sysroot_jsonc
fetch_kernel
touch "$stamps/deps"
log "ready"
