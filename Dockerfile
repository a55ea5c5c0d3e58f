# nixyard: the registry with Nix inside. Build: docker build -t nixyard .
# Run:   docker run -p 8080:8080 -v nixyard-data:/var/lib/nixyard nixyard            (nixos-unstable)
#        docker run -p 8080:8080 nixyard serve --demo                                (offline demo set)

FROM node:22-bookworm-slim AS build
# The gzip addon (native/) is compiled here, libdeflate linked in: the final image needs neither.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libdeflate-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY storage storage
COPY bench bench
COPY native native
COPY scripts/build-native.sh scripts/
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
# Nix (single-user, as in Debian), git for git package sources, busybox for the demo set.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nix-bin nix-setup-systemd git ca-certificates busybox-static xz-utils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/nixyard
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
COPY nix nix
ENV NODE_ENV=production \
    PORT=8080 \
    NIXYARD_DATA_DIR=/var/lib/nixyard
VOLUME /var/lib/nixyard
EXPOSE 8080
# /healthz answers while the process does (plain HTTP; with NIXYARD_TLS_* set, probe over HTTPS instead).
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/nixyard/dist/src/cli.js"]
CMD ["serve"]
