# argocd-progressive-rollout image, for people with Docker: the same image scripts/image.sh
# builds without one (tests/image checks that the two stay in step). Build:
#   docker build -t ghcr.io/argocd-progressive-rollout/argocd-progressive-rollout:v0.1.0 .

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config \
      libboost1.81-dev libboost-system1.81-dev libboost-program-options1.81-dev \
      libboost-test1.81-dev libssl-dev rapidjson-dev libyaml-cpp-dev zlib1g-dev \
      libhowardhinnant-date-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY webhook webhook
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build /build --target argocd-progressive-rollout -j"$(nproc)" \
 && install -D -s -m 0755 "$(find /build -type f -name argocd-progressive-rollout -perm -u+x | head -n1)" \
      /out/argocd-progressive-rollout

# The root filesystem from Debian packages, by the script scripts/image.sh uses: only the
# binary's shared libraries and the CA roots; no shell, no package manager.
FROM debian:bookworm AS rootfs
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/image-rootfs.sh /usr/local/bin/image-rootfs.sh
RUN bash /usr/local/bin/image-rootfs.sh /rootfs
COPY --from=build /out/argocd-progressive-rollout /rootfs/usr/local/bin/argocd-progressive-rollout
# Fail the image build, not the pod, if a runtime library is missing.
RUN chroot /rootfs /lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/argocd-progressive-rollout > /libs \
 && ! grep 'not found' /libs

FROM scratch
COPY --from=rootfs /rootfs/ /
# Numeric, so the kubelet can check runAsNonRoot without looking the name up.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/argocd-progressive-rollout"]
CMD ["serve", "--listen", "0.0.0.0:8443", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
