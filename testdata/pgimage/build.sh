#!/usr/bin/env bash
# Builds pgtune's PostgreSQL test images without any container registry: for each major, a minimal
# Debian root filesystem of the suite that packages it, made by debootstrap, with PostgreSQL,
# HypoPG, pg_cron, PgBouncer and pgBackRest where the suite has them, imported with `docker import`.
#
#   bash testdata/pgimage/build.sh [--force] [MAJOR ...]     (default: $PGTUNE_TEST_PG, else 13,15,17,18)
#   bash testdata/pgimage/build.sh --print-tags [MAJOR ...]  the tags the current recipe gives
#
# Each image is tagged pgtune-test-pg:MAJOR-HASH, HASH being a content hash of its recipe (recipe.sh,
# entrypoint.sh and the major; internal/pgtest computes the same tag), so a machine that
# already holds an image of the current recipe reuses it, and any change to the recipe rebuilds.
# Majors are built two at a time (debootstrap is mostly download and unpack).
#
# The Debian mirror is read from this machine's own apt sources, so no host name lives in the repo.
# Needs root, debootstrap and a Docker engine. First build: about 100 s per major on 2 cores
# (docs/testing.md has the measured figures).
#
# PostgreSQL 14 and 16 are packaged by no Debian suite the mirror serves; they are not built.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

force=false
print_tags=false
majors=()
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    --print-tags) print_tags=true ;;
    [0-9][0-9]) majors+=("$arg") ;;
    *) echo "build.sh: unknown argument $arg (expected --force or a major such as 17)" >&2; exit 2 ;;
  esac
done
if ((${#majors[@]} == 0)); then
  IFS=', ' read -r -a majors <<<"${PGTUNE_TEST_PG:-13,15,17,18}"
fi

# What goes into an image (suites, packages, the root filesystem's last touches, the import) is
# recipe.sh; this script only drives it.
# shellcheck source=recipe.sh
source "$here/recipe.sh"

# recipe_hash MAJOR: keep in step with recipeHash in internal/pgtest/majors.go.
recipe_hash() {
  { printf 'major=%s\n' "$1"; cat "$here/recipe.sh" "$here/entrypoint.sh"; } | sha256sum | cut -c1-12
}

tag_of() { echo "pgtune-test-pg:$1-$(recipe_hash "$1")"; }

if $print_tags; then
  for major in "${majors[@]}"; do tag_of "$major"; done
  exit 0
fi

if ! docker info >/dev/null 2>&1; then
  echo "build.sh: no Docker engine answers (docker info failed); start one, or test with local PostgreSQL binaries instead" >&2
  exit 3
fi
for tool in debootstrap tar sha256sum; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found; install it with: apt-get install -y $tool" >&2; exit 3; }
done

source "$here/../../deploy/debian-mirror.sh"

mirror=${PGTUNE_DEBIAN_MIRROR:-$(mirror_from_apt | head -n 1)}
if [[ -z "$mirror" ]]; then
  echo "build.sh: no Debian mirror found in /etc/apt/sources*; set PGTUNE_DEBIAN_MIRROR to a Debian mirror URL" >&2
  exit 3
fi

build_one() {
  local major=$1 suite image work rootfs start packages
  suite=$(suite_of "$major") || { echo "build.sh: no Debian suite packages PostgreSQL $major here (13, 15, 17 and 18 are built; 14 and 16 are packaged by none)" >&2; return 2; }
  image=$(tag_of "$major")
  if ! $force && docker image inspect "$image" >/dev/null 2>&1; then
    echo "build.sh: image $image already exists"
    return 0
  fi
  packages=$(packages_of "$major")
  work=$(mktemp -d /var/tmp/pgtune-image-$major.XXXXXX)
  rootfs=$work/rootfs
  echo "build.sh: debootstrap $suite for PostgreSQL $major ($packages)" >&2
  start=$SECONDS
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    echo "build.sh: debootstrap of $suite failed for PostgreSQL $major (log above)" >&2
    rm -rf "$work"
    return 3
  fi
  finish_rootfs "$major" "$rootfs"
  echo "build.sh: docker import as $image" >&2
  import_rootfs "$major" "$suite" "$rootfs" "$image"
  rm -rf "$work"
  echo "build.sh: built $image ($suite) in $((SECONDS - start)) s" >&2
}

# Two at a time; every build's status is collected, and the first failure is the exit status.
status=0
pids=()
for major in "${majors[@]}"; do
  build_one "$major" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then
    wait "${pids[0]}" || status=$?
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || { s=$?; ((status == 0)) && status=$s; }
done
exit "$status"
