# berth's container image: the control plane (`berth up`) as it runs on AWS, where `berth install
# --env E --image IMAGE` deploys it as the ECS service "berth" behind the environment's ALB.
#
#   docker build -t REGISTRY/berth:0.1.0 .
#   docker push REGISTRY/berth:0.1.0
#
# What the task definition hands it (berth install sets all of these):
#   BERTH_CONFIG       the environments it hosts (berth.config.yaml as JSON), written to $BERTH_HOME
#   BERTH_TOKENS       the token file (SHA-256 hashes only, never a token), written to $BERTH_HOME (0600)
#   BERTH_ALLOW_HOSTS  comma-separated Host names the API answers to (its ALB host names)
#   BERTH_API_HOST, BERTH_API_PORT   where the API listens (default 0.0.0.0:4000)
# Its state lives in the environments' DynamoDB table, so any number of replicas are peers.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    BERTH_HOME=/var/lib/berth \
    BERTH_API_HOST=0.0.0.0 \
    BERTH_API_PORT=4000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY docker/entrypoint.sh /usr/local/bin/berth-entrypoint
RUN chmod 0755 /usr/local/bin/berth-entrypoint \
 && mkdir -p /var/lib/berth && chown node:node /var/lib/berth && chmod 0700 /var/lib/berth
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.BERTH_API_PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["berth-entrypoint"]
CMD ["up"]
