#!/bin/bash
# Latency of 8 ping-pong clients (64 B) while IDLE connections sit open:
#   perf/scenarios/latency.sh <proxy binary> <idle> [nbthread]
# Prints p50/p99/p99.9 of the ping-pong clients. One executor is pinned to
# CPU 0 and the clients to CPU 1 unless nbthread is given. Loopback only.
set -eo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NB=${3:-1}
cargo build -q --release --manifest-path "$HERE/lat/Cargo.toml"
LAT="$HERE/lat/target/release/lat"
CFG=$(mktemp /tmp/ringlb-latency-XXXX.cfg)
PROG=$1; IDLE=$2
fp() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
BP=$(fp); FP=$(fp)
cat > $CFG <<CFG
global
    maxconn 8000
    nbthread $NB
defaults
    mode tcp
    timeout connect 2s
    timeout client 100s
    timeout server 100s
frontend fe
    bind 127.0.0.1:$FP
    default_backend be
backend be
    server s1 127.0.0.1:$BP
CFG
ulimit -n 20000
$LAT server 127.0.0.1:$BP & S=$!
EXTRA=""; [[ $PROG == *haproxy* ]] && EXTRA="-db"
PIN0=""; PIN1=""; [ "$NB" = 1 ] && { PIN0="taskset -c 0"; PIN1="taskset -c 1"; }
$PIN0 $PROG -f $CFG $EXTRA >/dev/null 2>&1 & P=$!
sleep 0.5
if [ "$IDLE" -gt 0 ]; then $LAT idle 127.0.0.1:$FP $IDLE > $CFG.idle 2>/dev/null & I=$!; while ! grep -q ready $CFG.idle 2>/dev/null; do sleep 0.2; done; fi
[ -n "${PERFCMD:-}" ] && { eval "$PERFCMD" & PF=$!; }
$PIN1 $LAT ping 127.0.0.1:$FP ${CONC:-8} 5
[ -n "${PERFCMD:-}" ] && wait $PF
kill $P $S ${I:-} 2>/dev/null || true; wait 2>/dev/null || true
rm -f "$CFG" "$CFG.idle"
