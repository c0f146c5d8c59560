#!/usr/bin/env bash
# image_dockerfile_build: the Dockerfile really builds, and into the image scripts/image.sh
# builds. No registry is reachable, so the debian:bookworm it starts from is made here by
# mmdebstrap from the same mirror; podman builds the Dockerfile with chroot isolation (its
# container runtime may be refused, see image_test). Then the two images are compared: the same
# paths, modes, owners, link targets and file contents (the binary aside: two compiles), the
# same configuration, and the Dockerfile's binary runs in its image as the image's user.
#   tests/image/dockerfile_build_test.sh IMAGE_DIR   (the --build-dir given to scripts/image.sh)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$(cd "${1:?usage: dockerfile_build_test.sh IMAGE_DIR}" && pwd)"
readonly repo dir
mirror="${APR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${APR_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

ref="$(yq -r '.spec.template.spec.containers[0].image' "$repo/manifests/server/deployment.yaml")"
archive="$dir/argocd-progressive-rollout-${ref##*:}.oci.tar"
[[ -f "$archive" ]] || { echo "FAIL: no archive $archive (run scripts/image.sh --build-dir $dir)"; exit 1; }

work="$dir/dockerfile-build"
# podman refuses a run root longer than 50 characters; a checkout's build directory can be longer.
runroot="$(mktemp -d /tmp/apr-podman.XXXXXX)"
pm=(podman --root "$work/storage" --runroot "$runroot" --storage-driver vfs
    --cgroup-manager cgroupfs --events-backend none)
cleanup() {
  "${pm[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work" "$runroot"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"

start=$SECONDS
mmdebstrap --quiet --variant=apt --skip=chroot/mount bookworm "$work/debian.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
"${pm[@]}" import --quiet "$work/debian.tar" docker.io/library/debian:bookworm >/dev/null
rm "$work/debian.tar"
if ! "${pm[@]}" build --pull=never --layers=false --isolation chroot -t localhost/apr-dockerfile:test \
    -f "$repo/Dockerfile" "$repo" > "$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  echo "FAIL: the Dockerfile does not build"
  exit 1
fi
pass "the Dockerfile builds ($((SECONDS - start)) s, debian:bookworm made by mmdebstrap)"
"${pm[@]}" save --format oci-archive -o "$work/dockerfile.oci.tar" localhost/apr-dockerfile:test 2>/dev/null
"$repo/tests/image/unpack.sh" "$work/dockerfile.oci.tar" "$work/dockerfile"
"$repo/tests/image/unpack.sh" "$archive" "$work/image-sh"

entrypoint="$(jq -r '.config.Entrypoint[0]' "$work/image-sh/config.json")"
listing() { (cd "$1" && find . -printf '%p %M %U:%G %l\n' | LC_ALL=C sort); }
contents() { (cd "$1" && find . -type f ! -path ".$entrypoint" -exec sha256sum {} + | LC_ALL=C sort -k2); }
if diff <(listing "$work/image-sh/rootfs") <(listing "$work/dockerfile/rootfs") > "$work/listing.diff"; then
  pass "same paths, modes, owners and links ($(listing "$work/dockerfile/rootfs" | wc -l) entries)"
else
  fail "paths, modes, owners or links differ (< image.sh, > Dockerfile):"
  head -n 40 "$work/listing.diff"
fi
if diff <(contents "$work/image-sh/rootfs") <(contents "$work/dockerfile/rootfs") > "$work/contents.diff"; then
  pass "same file contents, the binary aside"
else
  fail "file contents differ (< image.sh, > Dockerfile):"
  head -n 40 "$work/contents.diff"
fi
settings='.config | {User, Entrypoint, Cmd, ExposedPorts, Env}'
check "same configuration $(jq -c "$settings" "$work/image-sh/config.json")" \
  test "$(jq -c "$settings" "$work/image-sh/config.json")" == "$(jq -c "$settings" "$work/dockerfile/config.json")"
user="$(jq -r '.config.User' "$work/dockerfile/config.json")"
out="$(chroot --userspec="$user" "$work/dockerfile/rootfs" "$entrypoint" --help 2>&1)" && status=0 || status=$?
check "the Dockerfile's binary answers --help in its image as $user (exit $status)" grep -q 'validate FILE' <<<"$out"

echo "$failures failure(s)"
[[ $failures == 0 ]]
