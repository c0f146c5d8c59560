# shellcheck shell=bash
# What the scripts share: waiting for a condition and finding a free loopback port.
# Source it (`source "$repo/scripts/lib.sh"`); it defines functions only. Messages go to stderr,
# prefixed with the sourcing script's name.

lib_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# wait_for DESCRIPTION SECONDS PID COMMAND...: poll COMMAND (a condition, not a timer) until it
# succeeds. Gives up, saying why and returning 1, at the deadline or as soon as PID (the process
# the condition depends on; "" for none) has exited.
wait_for() {
  local what=$1 timeout=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      lib_log "$what: process $pid exited"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      lib_log "$what: not ready after ${timeout}s"
      return 1
    fi
    sleep 0.2
  done
}

# wait_exit PID SECONDS: wait until PID has exited; 1 if it still runs after SECONDS.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# port_in_use PORT: something on 127.0.0.1 answers on PORT, or (with ss) has it bound.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  if command -v ss >/dev/null; then
    [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ] && return 0
  fi
  return 1
}

# free_port: prints a loopback port nothing uses now, below the kernel's ephemeral range
# (32768+) so outgoing connections do not take it meanwhile. For programs that cannot bind
# port 0 and report it (nginx, etcd); `serve` has --listen 127.0.0.1:0 --port-file FILE.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  lib_log "no free loopback port found"
  return 1
}

# port_file_ready FILE: `serve --port-file FILE` has written its port (a condition for wait_for).
port_file_ready() { [ -s "$1" ]; }
