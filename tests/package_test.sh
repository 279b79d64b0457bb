#!/usr/bin/env bash
# What scripts/package wrote, installed and run as users would:
#   1. the .deb installed by dpkg into a throw-away root: its files in place, and its binary
#      restarts a server;
#   2. the static binary in a chroot holding only it, a static test server and /etc/passwd +
#      /etc/group (a container image's minimum, /proc mounted): --user nobody resolves without
#      NSS, and three restarts under load fail no request.
# $1: the dist directory, $2: the build directory (test_server, test_server_static).
set -euo pipefail
dist=$(realpath "$1")
build=$(realpath "$2")
deb=$(ls "$dist"/reuserun_*.deb)
static=$(ls "$dist"/reuserun-*-static)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  umount "$work/jail/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Polls (bounded) until `reuserun ctl status` answers on socket $1, with binary $2.
wait_status() {
  for _ in $(seq 1 250); do
    "$2" ctl --control-socket "$1" --json status 2>/dev/null && return 0
    sleep 0.04
  done
  return 1
}
# reuserun's own pid, the first "pid" of `ctl --json status`.
reuserun_pid_of() { sed -n 's/^{"schema":[0-9]*,"pid":\([0-9]*\).*/\1/p'; }

echo "--- 1. dpkg -i into a throw-away root"
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# --force-depends: the throw-away root has no libc6 registered (the binary uses the host's).
dpkg --root="$root" --force-depends --force-not-root -i "$deb" >"$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log"; exit 1; }
for file in usr/bin/reuserun usr/share/man/man1/reuserun.1.gz \
  usr/share/bash-completion/completions/reuserun usr/share/zsh/vendor-completions/_reuserun \
  usr/share/fish/vendor_completions.d/reuserun.fish usr/share/doc/reuserun/copyright; do
  [[ -f $root/$file ]] || { echo "missing after install: /$file"; exit 1; }
done
# Here-strings, not `cmd | grep -q`: grep leaves at the first match, the writer may die of
# SIGPIPE, and pipefail would turn the match into a failure.
grep -q '^Status: install ok installed' <<<"$(dpkg --root="$root" -s reuserun)"
installed=$root/usr/bin/reuserun
port=$(free_port)
"$installed" --port "$port" --bind 127.0.0.1 --control-socket "$work/deb.sock" -- \
  "$build/tests/test_server" >"$work/deb.log" 2>&1 &
pids+=($!)
wait_status "$work/deb.sock" "$installed" >/dev/null || { cat "$work/deb.log"; exit 1; }
"$installed" ctl --control-socket "$work/deb.sock" restart
kill -TERM "${pids[0]}"
wait "${pids[0]}" || { echo "the installed reuserun did not stop cleanly"; exit 1; }
echo "installed .deb: files in place, restart succeeded, clean stop"

echo "--- 2. the static binary in a chroot that holds nothing else"
jail=$work/jail
mkdir -p "$jail/etc" "$jail/proc" "$jail/run" "$jail/tmp"
chmod 1777 "$jail/tmp"
cp "$static" "$jail/reuserun"
cp "$build/tests/test_server_static" "$jail/test_server"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
  >"$jail/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$jail/etc/group"
port=$(free_port)
unshare --mount --propagation private --fork --kill-child -- sh -c \
  "mount -t proc proc '$jail/proc' && exec chroot '$jail' /reuserun --port $port \
   --bind 127.0.0.1 --user nobody --control-socket /ctl.sock -- /test_server" \
  >"$work/static.log" 2>&1 &
pids+=($!)
status=$(wait_status "$jail/ctl.sock" "$static") || { cat "$work/static.log"; exit 1; }
reuserun_pid=$(reuserun_pid_of <<<"$status")
pids+=("$reuserun_pid")
grep -q '^uid=65534 gid=65534' <<<"$(curl -s "http://127.0.0.1:$port/info")" ||
  { echo "the child does not run as nobody"; curl -s "http://127.0.0.1:$port/info"; exit 1; }
# Load: 600 requests, a new connection each, bounded by curl's own timeouts.
(
  failed=0
  for _ in $(seq 1 600); do
    curl -s -f -m 5 "http://127.0.0.1:$port/" >/dev/null || failed=$((failed + 1))
  done
  echo "$failed" >"$work/failed"
) &
load=$!
for _ in 1 2 3; do
  sleep 0.3
  "$static" ctl --control-socket "$jail/ctl.sock" restart
done
wait "$load"
failed=$(cat "$work/failed")
kill -TERM "$reuserun_pid"
for _ in $(seq 1 250); do kill -0 "$reuserun_pid" 2>/dev/null || break; sleep 0.04; done
echo "static binary in a chroot: 3 restarts under load, 600 requests, $failed failed"
[[ $failed -eq 0 ]]
