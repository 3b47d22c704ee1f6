# shellcheck shell=bash
# The node root filesystem recipe: debootstrap plus kind's container tweaks.
# Sourced by ./build; this file and ./packages are the image's hash, so editing
# anything else (the import, `lab up`) never rebuilds the rootfs.

# mask_units ROOT UNIT...: what `systemctl mask` does, without running systemctl.
mask_units() {
  local root="$1"; shift
  for u in "$@"; do ln -sf /dev/null "$root/etc/systemd/system/$u"; done
}

# build_rootfs DIR MIRROR PACKAGES_FILE: debootstraps into DIR.tmp, tars it to
# DIR.tmp/rootfs.tar, renames DIR.tmp to DIR (with .done).
build_rootfs() {
  local dir="$1" mirror="$2" packages_file="$3"
  apt_install debootstrap
  local tmp="$dir.tmp" rootfs
  rootfs="$tmp/rootfs"
  rm -rf "$tmp" && mkdir -p "$tmp"
  local pkgs
  pkgs="$(grep -v '^#' "$packages_file" | paste -sd,)"
  log "debootstrap bookworm ($pkgs) from $mirror; log $tmp/debootstrap.log"
  debootstrap --variant=minbase --include="$pkgs" bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 \
    || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log $tmp/debootstrap.log); check that $mirror is reachable"; }

  # As kind does: no units that start by default except the ones the lab enables
  # (containerd here; kubelet and the lab's node setup are added by `lab up`).
  rm -f "$rootfs"/lib/systemd/system/multi-user.target.wants/* "$rootfs"/etc/systemd/system/*.wants/* \
    "$rootfs"/lib/systemd/system/local-fs.target.wants/* "$rootfs"/lib/systemd/system/sockets.target.wants/*udev* \
    "$rootfs"/lib/systemd/system/sockets.target.wants/*initctl* "$rootfs"/lib/systemd/system/basic.target.wants/*
  mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
  ln -sf /lib/systemd/system/containerd.service "$rootfs/etc/systemd/system/multi-user.target.wants/containerd.service"
  ln -sf /lib/systemd/system/multi-user.target "$rootfs/etc/systemd/system/default.target"
  # Hardware, kernel and login units: the host owns them, a container cannot run them.
  mask_units "$rootfs" systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
    systemd-udevd-kernel.socket systemd-udevd-control.socket systemd-modules-load.service \
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
    dev-hugepages.mount systemd-remount-fs.service systemd-firstboot.service systemd-pstore.service \
    systemd-journald-audit.socket systemd-machine-id-commit.service getty.target console-getty.service \
    getty@tty1.service serial-getty@.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer dpkg-db-backup.timer systemd-logind.service
  # The journal stays in memory (/run is a tmpfs), small; the kernel ring buffer is the host's.
  mkdir -p "$rootfs/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\nReadKMsg=no\n' >"$rootfs/etc/systemd/journald.conf.d/kubewasm-lab.conf"
  # An empty machine-id: systemd makes a fresh one per container at boot.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id"
  # CNI's conventional path, for tools that do not read containerd's config.
  mkdir -p "$rootfs/opt/cni" && ln -sfn /usr/lib/cni "$rootfs/opt/cni/bin"
  # Smaller image: no docs, no apt caches.
  rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true

  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tmp/rootfs.tar" . || die "tar of $rootfs failed"
  rm -rf "$rootfs"
  { echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "packages=$pkgs"; } >"$tmp/.done"
  rm -rf "$dir" && mv "$tmp" "$dir"
}
