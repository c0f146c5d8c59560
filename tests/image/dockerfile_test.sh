#!/usr/bin/env bash
# image_dockerfile: the Dockerfile (for people with Docker) and scripts/image.sh (what is built
# and tested here) describe the same image:
#   - the same root filesystem: both run scripts/image-rootfs.sh, so the same runtime packages;
#   - the same binary in the same place, stripped, from a Release build;
#   - the same user, port, entrypoint and arguments: the image built here carries exactly the
#     Dockerfile's final-stage USER, EXPOSE, ENTRYPOINT and CMD;
#   - and the manifests' Deployment agrees: same image, user and arguments.
#   tests/image/dockerfile_test.sh IMAGE_DIR   (the --build-dir given to scripts/image.sh)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$(cd "${1:?usage: dockerfile_test.sh IMAGE_DIR}" && pwd)"
readonly repo dir
readonly dockerfile="$repo/Dockerfile"
readonly deployment="$repo/manifests/server/deployment.yaml"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

# The Dockerfile's stages, by name (the last one is "final").
stage() {
  awk -v want="$1" '/^FROM /{name = ($NF ~ /^[a-z]/ && $(NF-1) == "AS") ? $NF : "final"} name == want' "$dockerfile" \
    | sed -e :a -e '/\\$/N; s/\\\n//; ta'
}
final="$(awk '/^FROM /{s=""} {s = s $0 "\n"} END{printf "%s", s}' "$dockerfile")"
instruction() { sed -n "s/^$1 //p" <<<"$final"; }
ref="$(yq -r '.spec.template.spec.containers[0].image' "$deployment")"

# Root filesystem and binary.
check "final stage starts from scratch" grep -qx 'FROM scratch' <<<"$final"
check "final stage is the rootfs stage's tree" grep -qx 'COPY --from=rootfs /rootfs/ /' <<<"$final"
check "final stage adds nothing else" test "$(grep -cE '^(COPY|ADD|RUN)' <<<"$final")" == 1
check "rootfs stage runs scripts/image-rootfs.sh" grep -qE '^RUN bash [^ ]*image-rootfs.sh /rootfs$' <<<"$(stage rootfs)"
check "rootfs stage copies that script from the repository" grep -qE '^COPY scripts/image-rootfs.sh ' <<<"$(stage rootfs)"
# shellcheck disable=SC2016 # the literal text of image.sh
check "scripts/image.sh runs scripts/image-rootfs.sh too" grep -q 'bash "$repo/scripts/image-rootfs.sh"' "$repo/scripts/image.sh"
entrypoint="$(instruction ENTRYPOINT | jq -r '.[0]')"
check "the built binary goes to the entrypoint $entrypoint" \
  grep -q "^COPY --from=build /out/argocd-progressive-rollout /rootfs$entrypoint\$" <<<"$(stage rootfs)"
check "build stage: Release, stripped (as scripts/image.sh)" \
  grep -q 'CMAKE_BUILD_TYPE=Release.*install -D -s ' <<<"$(stage build | tr '\n' ' ')"
check "image.sh strips the binary too" grep -q 'install -m 0755 -s ' "$repo/scripts/image.sh"

# Runtime configuration: the image built here against the Dockerfile.
unpacked="$dir/unpacked-dockerfile-test"
archive="$dir/argocd-progressive-rollout-${ref##*:}.oci.tar"
"$repo/tests/image/unpack.sh" "$archive" "$unpacked" || { echo "FAIL: cannot unpack $archive"; exit 1; }
cfg() { jq -c ".config$1" "$unpacked/config.json"; }
check "USER $(instruction USER) is the image's user $(cfg .User)" test "\"$(instruction USER)\"" == "$(cfg .User)"
check "ENTRYPOINT is the image's $(cfg .Entrypoint)" test "$(instruction ENTRYPOINT | jq -c .)" == "$(cfg .Entrypoint)"
check "CMD is the image's $(cfg .Cmd)" test "$(instruction CMD | jq -c .)" == "$(cfg .Cmd)"
check "EXPOSE $(instruction EXPOSE) is the image's $(cfg .ExposedPorts)" \
  test "$(instruction EXPOSE)/tcp" == "$(jq -r '.config.ExposedPorts | keys | join(" ")' "$unpacked/config.json")"
rm -rf "$unpacked"

# The Deployment.
check "the Dockerfile's build command tags $ref" grep -q "docker build -t $ref \.\$" "$dockerfile"
check "Deployment args are the Dockerfile's CMD" \
  test "$(yq -c '.spec.template.spec.containers[0].args' "$deployment")" == "$(instruction CMD | jq -c .)"
check "Deployment user is the Dockerfile's USER" \
  test "$(yq -r '.spec.template.spec.securityContext | "\(.runAsUser):\(.runAsGroup)"' "$deployment")" == "$(instruction USER)"

echo "$failures failure(s)"
[[ $failures == 0 ]]
