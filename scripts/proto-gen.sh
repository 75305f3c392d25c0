#!/usr/bin/env bash
# Regenerates the Go code of the protobuf event contracts (proto/) into pkg/events/.
# This is `make proto`.
#
#   scripts/proto-gen.sh [--out DIR]
#
# --out DIR writes the generated tree into DIR instead of pkg/events (used by
# scripts/proto-check.sh). Only *.pb.go files in the output directory are
# replaced; a .pb.go whose .proto was deleted is removed.
#
# Needs only Go: buf runs through `go tool` from tools/go.mod and protoc-gen-go is
# built into bin/ from tools/protoc-gen-go/go.mod (both kept out of go.work, hence
# GOWORK=off). The first run builds buf, which takes a minute or two.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off

out="$ROOT/pkg/events"
while (($# > 0)); do
	case "$1" in
	--out)
		out="${2:?--out needs a directory}"
		shift 2
		;;
	*)
		echo "usage: $0 [--out DIR]" >&2
		exit 2
		;;
	esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# protoc-gen-go, at the version pinned in tools/protoc-gen-go/go.mod; buf.gen.yaml
# runs it as ../bin/protoc-gen-go. `go build` is a no-op when it is up to date.
go -C "$ROOT/tools/protoc-gen-go" build -o "$ROOT/bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# buf runs in tools/, so the `../` paths in proto/buf.gen.yaml resolve from the
# repository root. -o is prepended to the template's `out: ../pkg/events`, so
# "$tmp/tools" puts the tree in "$tmp/pkg/events".
(cd "$ROOT/tools" && go tool buf generate ../proto --template ../proto/buf.gen.yaml -o "$tmp/tools")
gen="$tmp/pkg/events"
mkdir -p "$gen"

# Replace the generated files, leaving anything else in the directory alone.
find "$out" -type f -name '*.pb.go' -delete
(cd "$gen" && find . -type f -name '*.pb.go' -print0) | while IFS= read -r -d '' f; do
	mkdir -p "$out/$(dirname "$f")"
	cp "$gen/$f" "$out/$f"
done
find "$out" -mindepth 1 -type d -empty -delete
