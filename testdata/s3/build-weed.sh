#!/usr/bin/env bash
# Builds SeaweedFS's `weed`, the real S3 server the tests start on loopback (pgtest.NewS3), as a
# tool: from its module in the Go module proxy, outside pgtune's module graph (go install refuses
# it: its go.mod has replace directives), with cgo off so the one binary also runs inside the
# test images. The binary is cached by version; the path is printed on stdout.
#
#   bash testdata/s3/build-weed.sh        # about 5.5 minutes on 2 cores the first time
#   PGTUNE_TEST_WEED=$(bash testdata/s3/build-weed.sh) go test ./maintenance/pitr
set -euo pipefail

version=${PGTUNE_WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
cache=${PGTUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgtune}
bin=$cache/weed-$version/weed
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-weed.sh: go not found" >&2; exit 3; }
work=$(mktemp -d /var/tmp/pgtune-weed.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
started=$SECONDS
# A directory without a go.mod: the download is of the module alone.
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$dir" ]] || { echo "build-weed.sh: go mod download of seaweedfs@$version gave no directory" >&2; exit 3; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "build-weed.sh: building weed $version (cgo off)" >&2
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$work/weed" ./weed)
mkdir -p "$(dirname "$bin")"
mv "$work/weed" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "build-weed.sh: built $bin in $((SECONDS - started)) s" >&2
echo "$bin"
