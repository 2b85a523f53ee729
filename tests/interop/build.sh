#!/bin/bash
# Builds the Go interop client offline from Debian's Go packages, into $BUILD/interop (a GOPATH of its own):
#   bin/protoc-gen-gogottrpc  containerd's generator (gogo message code and ttRPC client stubs in one pass)
#   proto/                    copies of proto/*.proto with `option go_package` added (the originals stay as
#                             they are: protoc-c needs no Go options)
#   gopath/src/katapb/        generated Go: katapb/grpc (agent, oci, csi, health) and katapb/types (types.proto
#                             has its own Go package, hence its own protoc run)
#   bin/client                tests/interop/client.go
# Each step is skipped while its output is newer than its inputs. Exits 77 with the reason on stdout when a
# tool or a Debian package is missing.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
case $BUILD in /*) out="$BUILD/interop" ;; *) out="$top/$BUILD/interop" ;; esac
gocode=/usr/share/gocode/src

missing() { echo "missing $1 (Debian package $2)"; exit 77; }
command -v go >/dev/null || missing go golang-go
command -v protoc >/dev/null || missing protoc protobuf-compiler
[ -d "$gocode/github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc" ] ||
	missing "containerd ttrpc sources" golang-github-containerd-ttrpc-dev
[ -d "$gocode/github.com/gogo/protobuf/protoc-gen-gogo" ] || missing "gogo protobuf sources" golang-github-gogo-protobuf-dev
[ -d "$gocode/google.golang.org/grpc/status" ] || missing "grpc status package" golang-google-grpc-dev
[ -f /usr/include/google/protobuf/empty.proto ] || missing google/protobuf/empty.proto libprotobuf-dev

export GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/cache" GOFLAGS="" GOPROXY=off
mkdir -p "$out/bin" "$out/proto" "$out/gopath/src/katapb"

# newer OUT IN...: true when OUT is missing or older than any IN.
newer() { local o=$1 i; shift; [ -e "$o" ] || return 0; for i; do [ "$i" -nt "$o" ] && return 0; done; return 1; }

gen="$out/bin/protoc-gen-gogottrpc"
if newer "$gen" "$gocode/github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc/main.go" \
	"$gocode/github.com/containerd/ttrpc/plugin/generator.go"; then
	echo "building $gen"
	go build -o "$gen" github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc
fi

protos=(agent oci csi health types)
stamp="$out/gopath/src/katapb/.stamp"
if newer "$stamp" "$gen" "$0" "${protos[@]/#/proto/}"; then
	echo "generating Go code from proto/"
	rm -rf "$out/gopath/src/katapb" "$out/proto"
	mkdir -p "$out/gopath/src/katapb" "$out/proto"
	for p in "${protos[@]}"; do
		f="proto/$p.proto"
		pkg=$(sed -n 's/^package \([a-z]*\);.*/\1/p' "$f")
		[ -n "$pkg" ] || { echo "no package line in $f"; exit 1; }
		sed "0,/^package $pkg;/s||package $pkg;\noption go_package = \"katapb/$pkg\";|" "$f" >"$out/proto/$p.proto"
		grep -q '^option go_package' "$out/proto/$p.proto"
	done
	opts="plugins=ttrpc,Mgoogle/protobuf/empty.proto=github.com/gogo/protobuf/types,Mtypes.proto=katapb/types"
	run_protoc() {
		protoc --plugin=protoc-gen-gogottrpc="$gen" --gogottrpc_out="$opts:$out/gopath/src" \
			-I"$out/proto" -I/usr/include "$@"
	}
	run_protoc "$out/proto/types.proto"
	run_protoc "$out/proto/agent.proto" "$out/proto/oci.proto" "$out/proto/csi.proto" "$out/proto/health.proto"
	touch "$stamp"
fi

client="$out/bin/client"
if newer "$client" tests/interop/client.go "$stamp"; then
	echo "building $client"
	go build -o "$client" tests/interop/client.go
fi
