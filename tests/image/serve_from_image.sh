#!/usr/bin/env bash
# Stands in for the binary in the end-to-end harness (APR_E2E_WEBHOOK_BINARY): runs the
# image's entrypoint inside the image's root filesystem (APR_IMAGE_ROOTFS, unpacked by
# tests/image/unpack.sh), as the image's user, with the arguments it was given. The files it is
# given (certificate, key, kubeconfig) are copied into the image's /tmp, readable by that user
# only, as a Secret volume would be mounted; --port-file is written inside the image and linked to
# where the harness reads it. exec all the way down: the harness's signals reach
# the server itself.
set -euo pipefail
rootfs="${APR_IMAGE_ROOTFS:?APR_IMAGE_ROOTFS names the unpacked image root filesystem}"
config="$rootfs/../config.json"
entrypoint="$(jq -r '.config.Entrypoint[0]' "$config")"
user="$(jq -r '.config.User' "$config")"
[[ -x "$rootfs$entrypoint" && "$user" == *:* ]] || { echo "serve_from_image: no image at $rootfs" >&2; exit 127; }

files="/tmp/e2e-$$"
install -d -m 0700 -o "${user%:*}" -g "${user#*:}" "$rootfs$files"
args=()
previous=""
for arg in "$@"; do
  if [[ "$previous" == --port-file ]]; then
    # The server writes its port inside the image; the harness reads it where it asked, through
    # a link to that file.
    ln -sfn "$rootfs$files/port" "$arg"
    arg="$files/port"
  elif [[ "$arg" == /* && -f "$arg" ]]; then
    install -m 0400 -o "${user%:*}" -g "${user#*:}" "$arg" "$rootfs$files/${#args[@]}-$(basename "$arg")"
    arg="$files/${#args[@]}-$(basename "$arg")"
  fi
  args+=("$arg")
  previous="$arg"
done
echo "serve_from_image: $entrypoint ${args[*]} in $rootfs as $user" >&2
exec chroot --userspec="$user" "$rootfs" "$entrypoint" "${args[@]}"
