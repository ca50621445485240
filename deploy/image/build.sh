#!/usr/bin/env bash
# Builds the pgtune image from debootstrapped Debian bases, without any registry:
#
#   deploy/image/build.sh [--force] [MAJOR ...]     (default: $PGTUNE_IMAGE_MAJORS, else 13 15 17 18)
#
# Each major gets pgtune:pgMAJOR (its server binaries restore that major's backups); the newest
# supported major, 18, is also pgtune:latest, the name 'maintain schedule --emit k8s' writes by
# default. The bases (one build root with gcc, one runtime root per major) are cached as
# pgtune-image-build:HASH and pgtune-image-runtime:MAJOR-HASH, HASH being the recipe's; the
# image itself is rebuilt from the working tree every time (the compile is cached by Docker
# while the sources are unchanged). Needs root (debootstrap), Docker, git, and Go's module cache
# holding the module's dependencies (go mod download).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

force=false
majors=()
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    [0-9][0-9]) majors+=("$arg") ;;
    *) echo "build.sh: unknown argument $arg (expected --force or a major such as 17)" >&2; exit 2 ;;
  esac
done
if ((${#majors[@]} == 0)); then
  IFS=', ' read -r -a majors <<<"${PGTUNE_IMAGE_MAJORS:-13,15,17,18}"
fi

source "$here/recipe.sh"
source "$root/deploy/debian-mirror.sh"

for tool in docker debootstrap git tar sha256sum go; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (apt-get install -y $tool, or Go from go.dev)" >&2; exit 3; }
done
docker info >/dev/null 2>&1 || { echo "build.sh: no Docker engine answers (docker info failed); start one" >&2; exit 3; }
for major in "${majors[@]}"; do
  runtime_suite_of "$major" >/dev/null || { echo "build.sh: PostgreSQL $major: no Debian suite packages it here (13, 15, 17 and 18 are built)" >&2; exit 2; }
done
mirror=${PGTUNE_DEBIAN_MIRROR:-$(mirror_from_apt | head -n 1)}
[[ -n "$mirror" ]] || { echo "build.sh: no Debian mirror found in /etc/apt/sources*; set PGTUNE_DEBIAN_MIRROR to a Debian mirror URL" >&2; exit 3; }

hash=$(sha256sum "$here/recipe.sh" | cut -c1-12)
build_base=pgtune-image-build:$hash

# debootstrap_image SUITE PACKAGES TAG [FINISH ARGS...]: a root file system imported as TAG.
debootstrap_image() {
  local suite=$1 packages=$2 tag=$3 work start
  shift 3
  if ! $force && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "build.sh: base $tag already exists" >&2
    return 0
  fi
  work=$(mktemp -d /var/tmp/pgtune-image.XXXXXX)
  start=$SECONDS
  echo "build.sh: debootstrap $suite ($packages) for $tag" >&2
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    echo "build.sh: debootstrap of $suite failed (log above)" >&2
    rm -rf "$work"
    return 3
  fi
  if (($# > 0)); then "$@" "$work/rootfs"; fi
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | docker import --change "ENV LANG=C.UTF-8" - "$tag" >/dev/null
  rm -rf "$work"
  echo "build.sh: base $tag in $((SECONDS - start)) s" >&2
}

started=$SECONDS
pids=()
debootstrap_image "$build_suite" "$build_packages" "$build_base" & pids+=($!)
for major in "${majors[@]}"; do
  runtime_base=pgtune-image-runtime:$major-$hash
  if ((${#pids[@]} == 2)); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  debootstrap_image "$(runtime_suite_of "$major")" "$(runtime_packages_of "$major")" "$runtime_base" finish_runtime "$major" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "build.sh: bases ready in $((SECONDS - started)) s" >&2

# The build context: the working tree's files (tracked and new, not ignored), the vendored
# dependencies, and this machine's Go toolchain (no download inside the build).
ctx=$(mktemp -d /var/tmp/pgtune-image-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/src" "$ctx/go"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -c 2>/dev/null) | tar -C "$ctx/src" -x
(cd "$root" && GOFLAGS=-mod=mod go mod vendor -o "$ctx/src/vendor")
goroot=$(go env GOROOT)
tar -C "$goroot" --exclude=./test --exclude=./doc --exclude=./api --exclude=./misc -c . | tar -C "$ctx/go" -x
version=${PGTUNE_VERSION:-devel-$(cd "$root" && git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$( (cd "$root" && git diff --quiet HEAD 2>/dev/null) || echo -dirty)}

newest=18
for major in "${majors[@]}"; do
  start=$SECONDS
  tags=(-t "pgtune:pg$major")
  [[ "$major" == "$newest" ]] && tags+=(-t pgtune:latest)
  echo "build.sh: docker build pgtune:pg$major ($version)" >&2
  # The legacy builder: BuildKit's buildx plugin is not always installed, and nothing here needs it.
  DOCKER_BUILDKIT=0 docker build -q "${tags[@]}" -f "$here/Dockerfile" \
    --build-arg BUILD_BASE="$build_base" --build-arg RUNTIME_BASE="pgtune-image-runtime:$major-$hash" --build-arg VERSION="$version" --build-arg MAJOR="$major" \
    --label org.bookedbarber.pgtune.image=true --label "org.bookedbarber.pgtune.major=$major" \
    "$ctx" >/dev/null 2> >(grep -v -i 'deprecated\|legacy builder\|buildx\|BuildKit\|environment-variable\|^$' >&2)
  echo "build.sh: built pgtune:pg$major in $((SECONDS - start)) s" >&2
done
echo "build.sh: done in $((SECONDS - started)) s" >&2
