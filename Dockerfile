# syntax=docker/dockerfile:1
# Build: a static binary with the widget, the console and tzdata inside.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/baton ./cmd/baton

# Run: nothing but the binary and CA roots (for Zendesk and Gorgias), as a
# non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/baton /baton
ENV BATON_ADDR=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/baton"]
CMD ["serve"]
