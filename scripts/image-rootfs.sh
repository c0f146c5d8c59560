#!/usr/bin/env bash
# The root filesystem of the argocd-progressive-rollout image, from Debian bookworm packages
# only (mmdebstrap, no base image): the shared libraries the binary links against and the CA
# roots, nothing else. No shell, no package manager, no maintainer scripts run: the packages are
# extracted, not installed. Used by scripts/image.sh and by the Dockerfile, so both images hold
# the same files.
#
#   scripts/image-rootfs.sh TARGET_DIR
#
# TARGET_DIR must not exist yet. The package list is written into the tree, to
# var/lib/dpkg/status.d/ (one control record per package, the layout distroless images use and
# image scanners read). Nothing runs inside the tree, so nothing is mounted into it.
# Environment: APR_DEBIAN_MIRROR (default http://deb.debian.org/debian) and
# APR_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail

# What the binary needs at run time. Their dependencies (libc6, libstdc++6, libgcc-s1,
# gcc-12-base) come with them. libdate-tz3 and tzdata: rollout and Argo CD project windows are
# scheduled in IANA time zones, read from /usr/share/zoneinfo (docs/windows.md).
runtime_packages=(
  libboost-system1.81.0
  libboost-program-options1.81.0
  libssl3
  libyaml-cpp0.7
  zlib1g
  libdate-tz3
  tzdata
  ca-certificates
)
# Pulled in only for ca-certificates' and tzdata's maintainer scripts (which are not run here): the
# openssl command line tool, debconf and perl. Their files are removed again; the bundle their
# script would generate is written below instead.
dropped_packages=(openssl debconf perl-base)

# Numeric user and group of the image (the Deployment's runAsUser/runAsGroup).
uid=65532

if [[ "${1:-}" == --extract-hook ]]; then
  # Runs inside mmdebstrap after the .debs are extracted and before they are deleted:
  # $2 is the root, MMDEBSTRAP_ESSENTIAL lists the .debs (paths inside the root).
  root="$2"
  mkdir -p "$root/var/lib/dpkg/status.d"
  for deb in $MMDEBSTRAP_ESSENTIAL; do
    deb="$root$deb"
    pkg="$(dpkg-deb -f "$deb" Package)"
    if [[ " ${dropped_packages[*]} " == *" $pkg "* ]]; then
      # Files and symlinks of the package, then its directories deepest first when empty.
      dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./||' | while IFS= read -r path; do
        if [[ -n "$path" && "$path" != */ ]]; then rm -f -- "$root/$path"; fi
      done
      dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./||' | grep '/$' | sort -r | while IFS= read -r dir; do
        rmdir -- "$root/$dir" 2>/dev/null || true
      done
      continue
    fi
    { dpkg-deb -f "$deb"; echo "Status: install ok installed"; } > "$root/var/lib/dpkg/status.d/$pkg"
  done
  exit 0
fi

target="${1:?usage: image-rootfs.sh TARGET_DIR}"
[[ ! -e "$target" ]] || { echo "image-rootfs.sh: $target exists already" >&2; exit 1; }
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
mirror="${APR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${APR_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

include="$(IFS=,; echo "${runtime_packages[*]}")"
# Documentation other than the copyright files, manual pages, translations, lintian overrides
# and gdb helpers are left out of every package (dpkg path filters, applied while extracting),
# and so are glibc's iconv modules (gconv, 8 MB): the binary calls neither iconv nor setlocale.
mmdebstrap --variant=extract --include="$include" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/gdb/*' \
  --dpkgopt='path-exclude=/usr/share/gcc/*' \
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' \
  --skip=chroot/mount \
  --extract-hook="bash '$self' --extract-hook \"\$1\"" \
  bookworm "$target" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"

# What mmdebstrap leaves for a later apt or dpkg run; this tree has neither.
rm -rf "$target/etc/apt" "$target/etc/dpkg" "$target/var/cache" "$target/var/lib/apt" \
  "$target/var/log" "$target/etc/ca-certificates" "$target/usr/sbin/update-ca-certificates"
find "$target/var/lib/dpkg" -mindepth 1 -maxdepth 1 ! -name status.d -exec rm -rf {} +
find "$target/usr" -mindepth 1 -type d -empty -delete
# Device nodes are the container runtime's to provide, not the image's. (mmdebstrap makes them
# here; inside a container build it may not be allowed to.)
rm -rf "$target/dev"
install -d -m 0755 "$target/dev"
# mmdebstrap writes the host's resolv.conf and hostname; the container runtime provides both.
rm -f "$target/etc/resolv.conf" "$target/etc/hostname" "$target/etc/fstab"

# The CA bundle ca-certificates' update-ca-certificates would write (every certificate it
# ships is enabled by default), and the paths OpenSSL looks in by default (OPENSSLDIR is
# /usr/lib/ssl; the openssl package, left out, would have made these links).
mkdir -p "$target/etc/ssl/certs" "$target/usr/lib/ssl"
find "$target/usr/share/ca-certificates" -name '*.crt' -print0 | LC_ALL=C sort -z \
  | xargs -0 cat > "$target/etc/ssl/certs/ca-certificates.crt"
ln -s /etc/ssl/certs "$target/usr/lib/ssl/certs"
ln -s /etc/ssl/certs/ca-certificates.crt "$target/usr/lib/ssl/cert.pem"

# The non-root user, numeric in the image configuration; named here for tools that look it up.
cat > "$target/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:$uid:$uid:nonroot:/nonexistent:/sbin/nologin
EOF
cat > "$target/etc/group" <<EOF
root:x:0:
nonroot:x:$uid:
EOF
printf 'hosts: files dns\n' > "$target/etc/nsswitch.conf"
install -d -m 0700 "$target/root"
install -d -m 1777 "$target/tmp"
install -d -m 0755 "$target/usr/local/bin"
