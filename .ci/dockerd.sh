#!/usr/bin/env bash
# Source me: install Debian's docker.io and busybox-static, start dockerd on temp dirs (DOCKER_HOST
# exported), and import a local busybox image so the docker backend's tests need no registry.
# Sets DOCKERD_PID and DOCKERD_TMP; `stop_dockerd` stops the daemon and removes its directories.
if ! command -v dockerd >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null) \
    || echo "warning: could not install docker.io/busybox-static"
fi
DOCKERD_TMP=$(mktemp -d /tmp/kubefacade-dockerd.XXXXXX)
export DOCKER_HOST="unix://$DOCKERD_TMP/docker.sock"
dockerd --data-root "$DOCKERD_TMP/data" --exec-root "$DOCKERD_TMP/exec" --pidfile "$DOCKERD_TMP/docker.pid" \
  -H "$DOCKER_HOST" >"$DOCKERD_TMP/dockerd.log" 2>&1 &
DOCKERD_PID=$!
stop_dockerd() {
  kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null
  rm -rf "$DOCKERD_TMP" 2>/dev/null || true
}
for _ in $(seq 1 60); do
  docker version >/dev/null 2>&1 && break
  sleep 1
done
if docker version >/dev/null 2>&1; then
  rootfs="$DOCKERD_TMP/busybox-rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
  tar -C "$rootfs" -cf "$DOCKERD_TMP/busybox.tar" .
  docker import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$DOCKERD_TMP/busybox.tar" busybox:latest >/dev/null
  docker tag busybox:latest busybox:1.36
  rm -rf "$rootfs" "$DOCKERD_TMP/busybox.tar"
else
  echo "warning: dockerd did not answer; see $DOCKERD_TMP/dockerd.log" >&2
  tail -20 "$DOCKERD_TMP/dockerd.log" >&2 || true
fi
