# The recipe of the pgtune image's two bases, sourced by build.sh. Its content is hashed into the
# bases' tags: any change here rebuilds them.

# The build base: a suite with a C toolchain. The binary is static, so its suite matters not.
build_suite=bookworm
build_packages=gcc,libc6-dev,ca-certificates

# runtime_suite_of MAJOR: the Debian suite that packages PostgreSQL MAJOR ("testing" is forky); the
# same as the test images' suite_of (testdata/pgimage/recipe.sh), kept apart so that neither recipe's
# hash moves with the other.
runtime_suite_of() {
  case "$1" in
    13) echo bullseye ;;
    15) echo bookworm ;;
    17) echo trixie ;;
    18) echo testing ;;
    *) return 1 ;;
  esac
}

# runtime_packages_of MAJOR: the server (the drill restores into a scratch server of it), its
# client programs, pgBackRest (the drill's --pgbackrest source), CA certificates (TLS to a
# database or a repository), time zones.
runtime_packages_of() {
  echo "postgresql-$1,postgresql-client-$1,pgbackrest,ca-certificates,tzdata"
}

# The unprivileged user the image runs as (not root: PostgreSQL refuses root, and a job needs no
# more). A fixed id, so a Kubernetes securityContext or a volume's owner can name it.
pgtune_uid=10001

# finish_runtime MAJOR ROOTFS: trim what pgtune never reads, drop the cluster the Debian package
# created, add the user.
finish_runtime() {
  local major=$1 rootfs=$2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  rm -rf "$rootfs"/var/lib/postgresql/"$major"/main "$rootfs"/etc/postgresql/"$major"/main
  # JIT: only llvmjit.so links LLVM (about 100 MB), and a drill's scratch server has no use for it.
  rm -rf "$rootfs"/usr/lib/postgresql/"$major"/lib/llvmjit* "$rootfs"/usr/lib/postgresql/"$major"/lib/bitcode
  rm -f "$rootfs"/usr/lib/x86_64-linux-gnu/libLLVM*
  echo "pgtune:x:$pgtune_uid:$pgtune_uid:pgtune:/home/pgtune:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
  echo "pgtune:x:$pgtune_uid:" >>"$rootfs/etc/group"
  echo "pgtune:!:20000::::::" >>"$rootfs/etc/shadow"
  install -d -m 0750 -o "$pgtune_uid" -g "$pgtune_uid" "$rootfs/home/pgtune"
}
