#!/usr/bin/env bash
# Checks the protobuf event contracts: `buf lint` on proto/, and that the committed
# Go code in pkg/events/ is what scripts/proto-gen.sh generates now. Exits non-zero
# with a diff if it is not.
#
# Needs only Go (see scripts/proto-gen.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off

echo "buf lint proto/"
(cd "$ROOT/tools" && go tool buf lint ../proto)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$ROOT/scripts/proto-gen.sh" --out "$tmp/fresh"

# The committed generated files (only *.pb.go: other files may live in pkg/events).
mkdir -p "$tmp/committed"
if [[ -d "$ROOT/pkg/events" ]]; then
	(cd "$ROOT/pkg/events" && find . -type f -name '*.pb.go' -print0) | while IFS= read -r -d '' f; do
		mkdir -p "$tmp/committed/$(dirname "$f")"
		cp "$ROOT/pkg/events/$f" "$tmp/committed/$f"
	done
fi

if ! (cd "$tmp" && diff -ru committed fresh); then
	echo >&2
	echo "generated protobuf code is stale: run make proto" >&2
	exit 1
fi
echo "generated protobuf code is up to date"
