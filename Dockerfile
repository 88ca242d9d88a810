# kube-dns-ts: one image holding the three programs (kube2sky, skydns, exec-healthz), the
# sandbox API server and Debian's etcd 3.4. Every container of the kube-dns pod runs it and
# picks its program with `command:` (Kubernetes) or `entrypoint:` (Compose); `args:` /
# `command:` are the legacy arguments unchanged. Why one image: docs/deploy.md.
#
#   docker build -t kube-dns-ts:0.1.0 .
#
# The build stage runs exactly what the README's commands run (scripts/ensure.mjs):
# `npm ci`, `tsc -p tsconfig.json` and skydns's batched UDP module (scripts/build-native.mjs:
# one `cc` command against Node's headers); then `npm prune --omit=dev` keeps the runtime deps.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.json \
 && node scripts/build-native.mjs --force --strict \
 && npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE}

# etcd-server: /usr/bin/etcd (3.4, v3 API). bind9-dnsutils: nslookup for exec-healthz.
# tini: reaps the processes exec-healthz's commands leave behind and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends etcd-server bind9-dnsutils tini \
 && rm -rf /var/lib/apt/lists/*

# etcd 3.4 refuses to start on arm64 unless told it may (it runs fine there); on amd64 the
# variable is ignored.
ARG TARGETARCH
ENV ETCD_UNSUPPORTED_ARCH=${TARGETARCH} \
    NODE_ENV=production

# A fixed non-root uid/gid (runAsNonRoot can check a numeric USER); etcd's data dir and the
# sandbox API server's credentials dir belong to it, so a Compose volume or an emptyDir
# mounted there is writable.
RUN groupadd --system --gid 10001 kubedns \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kubedns \
 && install -d -o 10001 -g 10001 -m 0700 /var/etcd/data /var/lib/kube-sandbox

WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/cmd ./dist/cmd
COPY --from=build /src/dist/lib ./dist/lib
COPY --from=build /src/native/udpio.node ./native/udpio.node
COPY manifests/sandbox-cluster.yaml ./manifests/sandbox-cluster.yaml

# The programs by name, each under tini as a subreaper, so `command: [skydns]` works the
# same in Kubernetes (where command replaces the ENTRYPOINT) and in Compose. skydns gets node's
# --min-semi-space-size=16 --no-memory-reducer (lib/skydns/node-flags.ts: its young generation
# never shrinks, and V8 never stops it to give memory back).
RUN set -eu; \
    for p in kube2sky skydns exec-healthz apiserver; do \
      flags=''; if [ "$p" = skydns ]; then flags='--min-semi-space-size=16 --no-memory-reducer '; fi; \
      printf '#!/bin/sh\nexec /usr/bin/tini -s -- /usr/local/bin/node %s/app/dist/cmd/%s.js "$@"\n' "$flags" "$p" \
        > "/usr/local/bin/$p"; \
      chmod 0755 "/usr/local/bin/$p"; \
    done

USER 10001:10001
# No default program: the pod spec or compose file names one.
ENTRYPOINT []
CMD ["sh", "-c", "echo 'kube-dns-ts 0.1.0: run one of etcd, kube2sky, skydns, exec-healthz, apiserver (see docs/deploy.md)' >&2; exit 2"]
