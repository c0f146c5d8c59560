# argocd-progressive-rollout image: built from Debian bookworm packages only, like the rest of
# the project. Build: docker build -t ghcr.io/argocd-progressive-rollout/argocd-progressive-rollout:v0.1.0 .

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config \
      libboost1.81-dev libboost-system1.81-dev libboost-program-options1.81-dev \
      libboost-test1.81-dev libssl-dev rapidjson-dev libyaml-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY webhook webhook
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build /build --target argocd-progressive-rollout -j"$(nproc)" \
 && install -D -m 0755 "$(find /build -type f -name argocd-progressive-rollout -perm -u+x | head -n1)" \
      /out/argocd-progressive-rollout

FROM debian:bookworm-slim
# Only the shared libraries the binary links against, and the CA roots for out-of-cluster use.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-system1.81.0 libboost-program-options1.81.0 libssl3 libyaml-cpp0.7 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/argocd-progressive-rollout /usr/local/bin/argocd-progressive-rollout
# Fail the image build, not the pod, if a runtime library is missing.
RUN ! ldd /usr/local/bin/argocd-progressive-rollout | grep -q 'not found'
# Numeric, so the kubelet can check runAsNonRoot without looking the name up.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/argocd-progressive-rollout"]
CMD ["serve", "--listen", "0.0.0.0:8443", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
