# openkvs in a container: `docker build -t openkvs .` then
#   docker run -d -p 8910:8910 -v openkvs-data:/data -e OPENKVS_ADMIN_TOKEN=… openkvs
# Data lives in the volume /data (one SQLite file and its large-value files). Any flag of
# `openkvs serve` can be given as an OPENKVS_* variable or after the image name.

# Node 26: the Active LTS line since October 2026 (Node 20 reached its end of life in April 2026).
FROM node:26-trixie-slim AS build
WORKDIR /app
# better-sqlite3 installs a prebuilt binary; this toolchain is only its fallback.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:26-trixie-slim
ENV NODE_ENV=production \
    OPENKVS_HOST=0.0.0.0 \
    OPENKVS_PORT=8910 \
    OPENKVS_STORAGE=sqlite:/data/openkvs.sqlite
RUN groupadd --system openkvs \
 && useradd --system --gid openkvs --home-dir /data --no-create-home --shell /usr/sbin/nologin openkvs \
 && mkdir -p /data \
 && chown openkvs:openkvs /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER openkvs
VOLUME /data
EXPOSE 8910
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.OPENKVS_PORT || 8910}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: openkvs stops accepting, finishes the requests in flight, closes the storage and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/bin/openkvs.js"]
CMD ["serve"]
