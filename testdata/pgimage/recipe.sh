# The recipe of pgtune's PostgreSQL test images, sourced by build.sh. Its content (with
# entrypoint.sh's and the major) is hashed into each image's tag: any change here rebuilds.

# suite_of MAJOR: the Debian suite that packages it. "testing" is forky today; debootstrap on
# bookworm has no forky script but has one for testing.
suite_of() {
  case "$1" in
    13) echo bullseye ;;
    15) echo bookworm ;;
    17) echo trixie ;;
    18) echo testing ;;
    *) return 1 ;;
  esac
}

# packages_of MAJOR: what debootstrap installs. Every suite here packages all five; ca-certificates
# for pgBackRest's TLS.
packages_of() {
  echo "postgresql-$1,postgresql-$1-hypopg,postgresql-$1-cron,pgbouncer,pgbackrest,ca-certificates"
}

# finish_rootfs MAJOR ROOTFS: trim what a test server never reads; drop the cluster the Debian
# package created (the entrypoint makes a fresh one); install the entrypoint.
finish_rootfs() {
  local major=$1 rootfs=$2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  rm -rf "$rootfs"/var/lib/postgresql/"$major"/main "$rootfs"/etc/postgresql/"$major"/main
  install -m 0755 "$here/entrypoint.sh" "$rootfs/usr/local/bin/pgtune-entrypoint"
}

# import_rootfs MAJOR SUITE ROOTFS IMAGE
import_rootfs() {
  local major=$1 suite=$2 rootfs=$3 image=$4
  tar -C "$rootfs" -c . | docker import \
    --change 'ENTRYPOINT ["/usr/local/bin/pgtune-entrypoint"]' \
    --change 'EXPOSE 5432' \
    --change "LABEL org.bookedbarber.pgtune.major=$major org.bookedbarber.pgtune.suite=$suite" \
    --change "ENV LANG=C.UTF-8 PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    - "$image" >/dev/null
}
