#!/usr/bin/env bash
# Builds pgtune's PostgreSQL test image without any container registry: a minimal Debian bookworm
# root filesystem made by debootstrap, with PostgreSQL 15, HypoPG, pg_cron, PgBouncer and pgBackRest,
# imported with `docker import`. Does nothing when the image already exists (pass --force to rebuild).
#
#   bash testdata/pgimage/build.sh [--force]
#
# The Debian mirror is read from this machine's own apt sources, so no host name lives in the repo.
# Needs root, debootstrap and a Docker engine. Takes about 2 minutes on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Keep in step with defaultImage in internal/pgtest (a test checks they agree). Bump the suffix
# whenever this script or entrypoint.sh changes, so machines that hold the old image rebuild it.
image=${PGTUNE_TEST_IMAGE:-pgtune-test-pg:15-v2}
packages=postgresql-15,postgresql-15-hypopg,postgresql-15-cron,pgbouncer,pgbackrest,ca-certificates

force=false
[[ "${1:-}" == "--force" ]] && force=true

if ! docker info >/dev/null 2>&1; then
  echo "build.sh: no Docker engine answers (docker info failed); start one, or test with local PostgreSQL binaries instead" >&2
  exit 3
fi
if ! $force && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build.sh: image $image already exists"
  exit 0
fi
for tool in debootstrap tar; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found; install it with: apt-get install -y $tool" >&2; exit 3; }
done

# The first bookworm mirror apt uses here, from deb822 .sources files or a one-line sources.list.
mirror_from_apt() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/ && types ~ /deb( |$)/) { print uri; exit } uri=""; suites=""; types=""; next }
      /^Types:/  { sub(/^Types:[[:space:]]*/, ""); types=$0 }
      /^URIs:/   { sub(/^URIs:[[:space:]]*/, ""); split($0, u, " "); uri=u[1] }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites=$0 }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/ && types ~ /deb( |$)/) print uri }
    ' "$f" | head -n 1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
}
mirror=${PGTUNE_DEBIAN_MIRROR:-$(mirror_from_apt | head -n 1)}
if [[ -z "$mirror" ]]; then
  echo "build.sh: no bookworm mirror found in /etc/apt/sources*; set PGTUNE_DEBIAN_MIRROR to a Debian mirror URL" >&2
  exit 3
fi

work=$(mktemp -d /var/tmp/pgtune-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "build.sh: debootstrap bookworm ($packages)" >&2
start=$SECONDS
if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  echo "build.sh: debootstrap failed (log above)" >&2
  exit 3
fi

# Trim what a test server never reads.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
# The Debian package created its own cluster; the entrypoint makes a fresh one instead.
rm -rf "$rootfs"/var/lib/postgresql/15/main "$rootfs"/etc/postgresql/15/main
install -m 0755 "$here/entrypoint.sh" "$rootfs/usr/local/bin/pgtune-entrypoint"

echo "build.sh: docker import as $image" >&2
tar -C "$rootfs" -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/pgtune-entrypoint"]' \
  --change 'EXPOSE 5432' \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$image" >/dev/null
echo "build.sh: built $image in $((SECONDS - start)) s" >&2
