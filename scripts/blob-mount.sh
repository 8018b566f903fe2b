#!/usr/bin/env bash
# A real Azure Blob mount on this machine, for tests and benchmarks: the Azure Storage emulator
# Azurite (npm package, blob service only) on 127.0.0.1, a container in it, and an rclone FUSE
# mount of that container, as blobfuse or rclone mount a real container on a cluster VM.
#
#   scripts/blob-mount.sh start DIR [PORT]   starts everything under DIR and mounts the container at
#                                            DIR/mnt (read-write, --vfs-cache-mode writes); prints it
#   scripts/blob-mount.sh stop DIR           unmounts and stops everything started under DIR
#   scripts/blob-mount.sh upload DIR SRC NAME  copies the local folder SRC to NAME in the container
#
# Nothing started here reaches beyond this machine: Azurite runs with telemetry off, and every
# Node.js program with scripts/loopback-only.js, which lists any other attempt in DIR/outside.log.
#
# RCLONE_MOUNT_FLAGS adds flags to the mount (e.g. "--tpslimit 4"); BLOB_LATENCY_MS=N delays every
# request to the storage service by N ms (a slow, distant mount); FUSE_REQUEST_TIMEOUT=N has the
# kernel abort the mount when rclone leaves a request unanswered for N s (Linux 6.14 and later:
# fs.fuse.default_request_timeout, set for this mount only), so that no process can be left
# blocked on it for ever when the storage stops answering.
#
# Azurite is installed with npm under build/tools/azurite on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command=$1
dir=$2
port=${3:-10000}
conf="$dir/rclone.conf"
tools="$here/build/tools/azurite"

case "$command" in
  start)
    mkdir -p "$dir/store" "$dir/mnt" "$dir/cache"
    if [[ ! -x "$tools/node_modules/.bin/azurite-blob" ]]; then
      mkdir -p "$tools"
      (cd "$tools" && npm install --silent --no-audit --no-fund azurite@3 >/dev/null)
    fi
    # Telemetry off; scripts/loopback-only.js refuses, and lists in DIR/outside.log, any attempt
    # to look up or reach another host.
    LOOPBACK_ONLY_LOG="$dir/outside.log" NODE_OPTIONS="--require $here/scripts/loopback-only.js" \
      "$tools/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir/store" \
      --silent --disableTelemetry >"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
    endpoint_port=$port
    # BLOB_LATENCY_MS: every request reaches Azurite that much later (scripts/latency-proxy.js on
    # PORT + 1 in between), as from a VM to a storage account some distance away.
    if [[ -n "${BLOB_LATENCY_MS:-}" ]]; then
      endpoint_port=$((port + 1))
      LOOPBACK_ONLY_LOG="$dir/outside.log" node --require "$here/scripts/loopback-only.js" \
        "$here/scripts/latency-proxy.js" "$endpoint_port" "$port" "$BLOB_LATENCY_MS" >"$dir/proxy.log" 2>&1 &
      echo $! >"$dir/proxy.pid"
    fi
    printf '[blob]\ntype = azureblob\nuse_emulator = true\nendpoint = http://127.0.0.1:%s/devstoreaccount1\n' \
      "$endpoint_port" >"$conf"
    for _ in $(seq 100); do
      rclone --config "$conf" mkdir blob:ringtrain 2>/dev/null && break
      sleep 0.1
    done
    # Uploads start as soon as a file is closed (no write-back delay), so a committed checkpoint is
    # in the container, not only in the local cache.
    # RCLONE_MOUNT_FLAGS adds flags, e.g. "--tpslimit 20" (at most 20 requests a second: latency)
    # or "--bwlimit 50M", for benchmarks of a slower mount.
    # Bounded waits, as on a cluster: a request the storage service does not answer is given up
    # within seconds (and tried again: rclone's default retries ride out a flaky service).
    bounded=(--contimeout 5s --timeout 10s)
    sysctl_timeout=/proc/sys/fs/fuse/default_request_timeout
    previous_timeout=""
    if [[ -n "${FUSE_REQUEST_TIMEOUT:-}" ]]; then
      [[ -w $sysctl_timeout ]] || { echo "blob-mount: this kernel has no FUSE request timeout ($sysctl_timeout)" >&2; exit 3; }
      previous_timeout=$(cat "$sysctl_timeout")
      echo "$FUSE_REQUEST_TIMEOUT" >"$sysctl_timeout"
    fi
    # shellcheck disable=SC2086
    rclone --config "$conf" mount blob:ringtrain "$dir/mnt" --daemon --vfs-cache-mode writes \
      --vfs-write-back 0s --cache-dir "$dir/cache" "${bounded[@]}" ${RCLONE_MOUNT_FLAGS:-}
    for _ in $(seq 100); do
      grep -q " $dir/mnt fuse.rclone " /proc/mounts && break
      sleep 0.1
    done
    # The kernel takes the timeout when the mount starts: the machine's default is back after it.
    [[ -z $previous_timeout ]] || echo "$previous_timeout" >"$sysctl_timeout"
    grep -q " $dir/mnt fuse.rclone " /proc/mounts || { echo "blob-mount: the mount did not appear" >&2; exit 1; }
    echo "$dir/mnt"
    ;;
  upload)
    rclone --config "$conf" copy "$3" "blob:ringtrain/$4"
    ;;
  stop)
    if grep -q " $dir/mnt fuse.rclone " /proc/mounts; then fusermount3 -u "$dir/mnt" || fusermount3 -uz "$dir/mnt"; fi
    for process in azurite proxy; do
      # (a stopped emulator, as tests leave it, is continued so that it can end)
      # and each is waited for (at most 10 s), so that its stored state is complete when it is
      # started again on it.
      if [[ -f "$dir/$process.pid" ]]; then
        pid=$(cat "$dir/$process.pid")
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$dir/$process.pid"
      fi
    done
    ;;
  *)
    echo "usage: blob-mount.sh start|stop|upload DIR ..." >&2
    exit 2
    ;;
esac
