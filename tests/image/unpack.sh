#!/usr/bin/env bash
# Unpacks an OCI image archive the way a container runtime would, checking every blob against
# its digest on the way: index -> manifest -> config and layers, layers applied in order.
#   tests/image/unpack.sh ARCHIVE DEST
# DEST (replaced if present) gets oci/ (the archive's blobs), config.json (the image
# configuration), index.json and rootfs/. Needs root to keep the layers' owners.
set -euo pipefail
archive="$1"
dest="$2"
rm -rf "$dest"
mkdir -p "$dest/oci" "$dest/rootfs"
tar -C "$dest/oci" -xf "$archive"

blob() {  # blob DIGEST SIZE: path of a verified blob
  local digest="$1" size="$2" path="$dest/oci/blobs/${1/://}"
  [[ -f "$path" ]] || { echo "unpack: blob $digest missing" >&2; return 1; }
  [[ "$(sha256sum "$path" | cut -d' ' -f1)" == "${digest#sha256:}" ]] || { echo "unpack: blob $digest does not match its digest" >&2; return 1; }
  [[ "$(stat -c %s "$path")" == "$size" ]] || { echo "unpack: blob $digest is not $size bytes" >&2; return 1; }
  echo "$path"
}

index="$dest/oci/index.json"
[[ "$(jq '.manifests | length' "$index")" == 1 ]] || { echo "unpack: the index does not hold exactly one image" >&2; exit 1; }
manifest="$(blob "$(jq -r '.manifests[0].digest' "$index")" "$(jq -r '.manifests[0].size' "$index")")"
config="$(blob "$(jq -r '.config.digest' "$manifest")" "$(jq -r '.config.size' "$manifest")")"
cp "$index" "$dest/index.json"
cp "$config" "$dest/config.json"
# Layers in order, each one's uncompressed digest checked against the configuration's
# diff_ids. (The image has one layer and no whiteouts to apply.)
mapfile -t diff_ids < <(jq -r '.rootfs.diff_ids[]' "$config")
n=0
while read -r digest size media; do
  path="$(blob "$digest" "$size")"
  case "$media" in
    *.tar) cat=(cat) ;;
    *.tar+gzip) cat=(gzip -dc) ;;
    *) echo "unpack: layer type $media not handled" >&2; exit 1 ;;
  esac
  [[ "sha256:$("${cat[@]}" "$path" | sha256sum | cut -d' ' -f1)" == "${diff_ids[n]:-}" ]] \
    || { echo "unpack: layer $n does not match the configuration's diff_id" >&2; exit 1; }
  "${cat[@]}" "$path" | tar --numeric-owner -C "$dest/rootfs" -xpf -
  n=$((n + 1))
done < <(jq -r '.layers[] | "\(.digest) \(.size) \(.mediaType)"' "$manifest")
[[ "$n" == "${#diff_ids[@]}" && "$n" -gt 0 ]] || { echo "unpack: $n layers for ${#diff_ids[@]} diff_ids" >&2; exit 1; }
