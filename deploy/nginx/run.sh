#!/bin/sh
# Render nginx.conf.template from the environment and run nginx in the
# foreground. Used by the compose image and by the benchmark alike.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
: "${ENVELOPE_WEB:?set ENVELOPE_WEB to the web processes host:port}"
: "${NGINX_LISTEN:=8080}"
: "${NGINX_PREFIX:=/var/lib/nginx/envelope}"
: "${NGINX_CACHE_DIR:=$NGINX_PREFIX/cache}"
: "${NGINX_FILES_DIR:=/var/lib/envelope/files}"
: "${NGINX_S3_ORIGIN:=http://127.0.0.1:9}"
: "${NGINX_PAGE_FRESHNESS:=1s}"
: "${NGINX_WORKERS:=auto}"
: "${NGINX_USER:=www-data}"
# A fresh key per start: the cache is rebuilt anyway, and no key is stored.
: "${NGINX_KEY_SECRET:=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}"
export ENVELOPE_WEB NGINX_LISTEN NGINX_PREFIX NGINX_CACHE_DIR NGINX_FILES_DIR NGINX_S3_ORIGIN \
       NGINX_PAGE_FRESHNESS NGINX_WORKERS NGINX_USER NGINX_KEY_SECRET
mkdir -p "$NGINX_PREFIX" "$NGINX_CACHE_DIR"
VARS='${ENVELOPE_WEB} ${NGINX_LISTEN} ${NGINX_PREFIX} ${NGINX_CACHE_DIR} ${NGINX_FILES_DIR} ${NGINX_S3_ORIGIN} ${NGINX_PAGE_FRESHNESS} ${NGINX_WORKERS} ${NGINX_USER} ${NGINX_KEY_SECRET}'
envsubst "$VARS" < "$HERE/nginx.conf.template" > "$NGINX_PREFIX/nginx.conf"
chmod 600 "$NGINX_PREFIX/nginx.conf"
exec nginx -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf" "$@"
