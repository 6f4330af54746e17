# syntax=docker/dockerfile:1
# coder-relay container: compiled with the official Deno image, run as one executable on
# distroless "cc" (glibc, libgcc, CA certificates, nothing else; user nonroot, uid 65532). A truly
# empty `scratch` image is not possible: a compiled Deno binary links glibc dynamically.
#
#   docker build -t coder-relay .
#   docker run -p 8080:8080 -v coder-relay-data:/data -e GETDX_API_KEY=... coder-relay

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
# Set by `docker buildx` (amd64 or arm64): the binary is compiled for the image's platform.
ARG TARGETARCH
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ src/
COPY scripts/compile.ts scripts/
RUN case "${TARGETARCH:-amd64}" in \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      *) echo "unsupported architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && deno task compile --target "$target" \
 && mv dist/coder-relay-*-"$target" /coder-relay \
 && mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /coder-relay /coder-relay
# The Deno KV file lives on this volume; the directory belongs to the nonroot user.
COPY --from=build --chown=nonroot:nonroot /data /data
VOLUME /data
ENV HOST=0.0.0.0 PORT=8080 RELAY_STORE=/data/relay.kv
USER nonroot
EXPOSE 8080
# /readyz is 200 once the store answers; `healthcheck` asks it (there is no curl in this image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/coder-relay", "healthcheck"]
ENTRYPOINT ["/coder-relay"]
CMD ["serve"]
