# Countersign's image: multi-stage, Node 24 LTS pinned by version, production dependencies only, a non-root
# numeric user, nothing written at run time (works with readOnlyRootFilesystem), no npm or other build tools in
# the final stage. The build stage runs docker/build-bundle.sh, the same script CI runs on the host
# (npm run test:bundle); CI also builds this file with buildah (test/node/images/build.sh) and runs its pods.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY policy ./policy
COPY docker/build-bundle.sh ./docker/build-bundle.sh
RUN sh docker/build-bundle.sh /src /app

FROM ${NODE_IMAGE}
# The runtime needs node alone: package managers are build tools.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
# 65532: the conventional "nonroot" uid/gid; numeric so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
