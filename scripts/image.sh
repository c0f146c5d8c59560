#!/usr/bin/env bash
# Builds the argocd-progressive-rollout container image from Debian bookworm packages only: no
# base image is pulled from a registry. The root filesystem comes from scripts/image-rootfs.sh
# (mmdebstrap); the image configuration (user, port, entrypoint, arguments) is the final stage
# of the Dockerfile, so `docker build .` and this script describe one image. podman builds it
# and saves it as an OCI archive.
#
#   scripts/image.sh [--build-dir DIR] [--binary PATH] [--tag REFERENCE]
#
#   --build-dir  where everything goes (default: build-image in the repository)
#   --binary     put this binary in the image instead of building a Release one
#                (the test suite passes the one it has just built)
#   --tag        image reference (default: the image the manifests' Deployment runs)
#
# Output, in the build directory:
#   argocd-progressive-rollout-<version>.oci.tar   the image (podman/docker load, kind load)
#   argocd-progressive-rollout-<version>.sbom.txt  every Debian package in it, with versions
#   image/rootfs/                                 the image's root filesystem, unpacked
# Needs root (mmdebstrap's root mode, chroot) and the packages from scripts/install-deps.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build-image"
binary=""
ref=""
while (($#)); do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --tag) ref="$2"; shift 2 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$(id -u)" -eq 0 ]] || { echo "image.sh: needs root (mmdebstrap root mode, chroot)" >&2; exit 1; }
mkdir -p "$build"
build="$(cd "$build" && pwd)"
start=$SECONDS

if [[ -z "$ref" ]]; then
  ref="$(sed -n 's/^ *image: *//p' "$repo/manifests/server/deployment.yaml")"
  [[ "$(wc -l <<<"$ref")" -eq 1 && -n "$ref" ]] || { echo "image.sh: no single image in the Deployment" >&2; exit 1; }
fi
version="${ref##*:}"
name="argocd-progressive-rollout-$version"

if [[ -z "$binary" ]]; then
  cmake -S "$repo" -B "$build/release" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build/release" --target argocd-progressive-rollout -j"${APR_BUILD_JOBS:-$(nproc)}"
  binary="$build/release/webhook/cli/argocd-progressive-rollout"
fi
[[ -x "$binary" ]] || { echo "image.sh: $binary is not an executable" >&2; exit 1; }

# The image's runtime configuration: the USER, EXPOSE, ENTRYPOINT and CMD lines of the
# Dockerfile's final stage, verbatim.
config="$(awk '/^FROM /{stage=""} /^(USER|EXPOSE|ENTRYPOINT|CMD) /{stage=stage $0 "\n"} END{printf "%s", stage}' "$repo/Dockerfile")"
entrypoint="$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' <<<"$config")"
for instruction in USER ENTRYPOINT CMD; do
  grep -q "^$instruction " <<<"$config" || { echo "image.sh: the Dockerfile's final stage has no $instruction" >&2; exit 1; }
done

work="$build/image"
rm -rf "$work"
mkdir -p "$work"
bash "$repo/scripts/image-rootfs.sh" "$work/rootfs"
install -m 0755 -s "$binary" "$work/rootfs$entrypoint"

# Fail here, not in a pod, when a library is missing: the image's own dynamic loader lists
# what the binary needs, inside the image's root filesystem.
if ! libs="$(chroot "$work/rootfs" /lib64/ld-linux-x86-64.so.2 --list "$entrypoint" 2>&1)" \
   || grep -q 'not found' <<<"$libs"; then
  echo "image.sh: the binary's libraries are not all in the image:" >&2
  echo "$libs" >&2
  exit 1
fi

# One layer, owned by root, with every file's time set to the last commit's (reproducible).
epoch="$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$epoch" \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$work/rootfs" -cf "$work/rootfs.tar" .
{
  echo "FROM scratch"
  echo "ADD rootfs.tar /"
  echo "$config"
  echo "LABEL org.opencontainers.image.title=argocd-progressive-rollout org.opencontainers.image.version=$version"
} > "$work/Containerfile"

# podman with its own storage under the build directory: nothing is shared with (or left in)
# the machine's container storage. vfs needs no overlay mounts. Its run root (locks, runtime
# state) must be a path of at most 50 characters, which a checkout's build directory may not be.
runroot="$(mktemp -d /tmp/apr-podman.XXXXXX)"
trap 'rm -rf "$runroot"' EXIT
pm=(podman --root "$work/storage" --runroot "$runroot" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none)
"${pm[@]}" build --quiet --pull=never --timestamp "$epoch" -f "$work/Containerfile" -t "$ref" "$work" >/dev/null
archive="$build/$name.oci.tar"
rm -f "$archive"
"${pm[@]}" save --format oci-archive -o "$archive" "$ref"

# The archive's index names the image with its full reference under the annotation containerd
# reads (kind load image-archive, ctr import, Docker 25+); podman only writes the tag. A
# manifest.json next to it makes the same file a docker-archive for older Docker's `docker load`
# (what `docker save` writes since Docker 25).
mkdir "$work/oci"
tar -C "$work/oci" -xf "$archive"
jq --arg ref "$ref" '.manifests[0].annotations["io.containerd.image.name"] = $ref
  | .manifests[0].annotations["org.opencontainers.image.ref.name"] = ($ref | sub(".*:"; ""))' \
  "$work/oci/index.json" > "$work/index.json"
mv "$work/index.json" "$work/oci/index.json"
manifest="$work/oci/blobs/$(jq -r '.manifests[0].digest | sub(":"; "/")' "$work/oci/index.json")"
jq -c --arg ref "$ref" '[{Config: ("blobs/" + (.config.digest | sub(":"; "/"))), RepoTags: [$ref],
  Layers: [.layers[].digest | "blobs/" + sub(":"; "/")]}]' "$manifest" > "$work/oci/manifest.json"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$epoch" -C "$work/oci" -cf "$archive" .
"${pm[@]}" rmi --all --force >/dev/null

sbom="$build/$name.sbom.txt"
{
  echo "# Debian packages in $ref (from the image's /var/lib/dpkg/status.d)"
  printf '%-34s %-28s %-6s %s\n' PACKAGE VERSION ARCH SOURCE
  for f in "$work/rootfs/var/lib/dpkg/status.d/"*; do
    field() { sed -n "s/^$1: //p" "$f" | head -n1; }
    source_package="$(field Source)"
    printf '%-34s %-28s %-6s %s\n' "$(field Package)" "$(field Version)" "$(field Architecture)" \
      "${source_package:-$(field Package)}"
  done
} > "$sbom"

rootfs_bytes="$(du -sb "$work/rootfs" | cut -f1)"
archive_bytes="$(stat -c %s "$archive")"
gzip_bytes="$(gzip -c "$work/rootfs.tar" | wc -c)"
mb() { awk -v b="$1" 'BEGIN{printf "%.1f MB", b/1000000}'; }
echo "image:    $ref"
echo "archive:  $archive ($(mb "$archive_bytes"))"
echo "size:     $(mb "$rootfs_bytes") unpacked, $(mb "$gzip_bytes") compressed layer"
echo "packages: $sbom"
cat "$sbom"
echo "built in $((SECONDS - start)) s"
