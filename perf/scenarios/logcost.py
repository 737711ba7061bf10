#!/usr/bin/env python3
"""What logging costs per connection: `logcost.py ROUNDS SECONDS NBTHREAD BINARY...`.

Compares ringlb binaries (e.g. before and after a change) on a logging TCP
proxy: `mode tcp`, `option tcplog`, `log stdout format raw local0`, stdout
to /dev/null. nginx (1 worker, CPU 1) serves a 16-byte /tiny; the proxy
runs alone on CPU 0 with nbthread 1 (unpinned with more threads); wrk -t1
-c64 on CPU 1 with `Connection: close`, so one TCP connection (and one log
line) per request. Per run: utime+stime of the proxy process (every thread,
the logger's included) over the measured wrk run, per 100k connections,
and from `perf stat` (software events, no PMU needed) the context switches
and futex calls per connection. Rounds rotate the order of the binaries.
Loopback only, Python 3 standard library, needs nginx, wrk and perf.

    cargo build --release -p ringlb && cp target/release/ringlb /tmp/ringlb-new
    perf/scenarios/logcost.py 6 6 1 /tmp/ringlb-old /tmp/ringlb-new
"""
import math, os, re, socket, subprocess, sys, tempfile, time

rounds, secs, nbthread = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
bins = sys.argv[4:]
tmp = tempfile.mkdtemp(prefix="logcost-")
TICK = os.sysconf("SC_CLK_TCK")


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


nport, fport = freeport(), freeport()
os.makedirs(f"{tmp}/nginx/logs", exist_ok=True)
open(f"{tmp}/nginx/nginx.conf", "w").write(f"""worker_processes 1;
daemon off;
pid {tmp}/nginx/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{nport} backlog=4096;
        location /tiny {{ return 200 "0123456789abcde\\n"; }}
    }}
}}
""")
nginx = subprocess.Popen(["taskset", "-c", "1", "nginx", "-p", f"{tmp}/nginx", "-e", f"{tmp}/nginx/error.log",
                          "-c", f"{tmp}/nginx/nginx.conf"])
cfg = f"{tmp}/proxy.cfg"
open(cfg, "w").write(f"""global
    nbthread {nbthread}
    maxconn 4000
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{fport}
    default_backend be
backend be
    server s1 127.0.0.1:{nport}
""")


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wrk(d):
    r = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{d}s", "--timeout", "5s",
                        "-H", "Connection: close", f"http://127.0.0.1:{fport}/tiny"],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) requests in", r.stdout)
    if not m or m.group(1) == "0":
        # (A port picked by freeport may be taken meanwhile: the run is
        # reported and left out of the medians.)
        print("wrk:", (r.stdout + r.stderr)[-300:], flush=True)
    return int(m.group(1)) if m else 0


def one(binary, out=subprocess.DEVNULL):
    pin = ["taskset", "-c", "0"] if nbthread == 1 else []
    px = subprocess.Popen(pin + [binary, "-f", cfg], stdout=out, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(fport, time.time() + 10):
            return 0, 0.0, {}
        wrk(2)
        c0 = cpu(px.pid)
        ps = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "context-switches,syscalls:sys_enter_futex",
                               "-p", str(px.pid), "-o", f"{tmp}/perf.out"])
        n = wrk(secs)
        c1 = cpu(px.pid)
        ps.send_signal(2)
        ps.wait()
        ev = {}
        for line in open(f"{tmp}/perf.out"):
            f = line.strip().split(",")
            if len(f) >= 3 and f[0].isdigit():
                ev[f[2]] = int(f[0])
        return n, c1 - c0, ev
    finally:
        px.terminate()
        px.wait()


def median(v):
    v = sorted(x for x in v if not math.isnan(x))
    return v[len(v) // 2] if v else float("nan")


try:
    assert wait_port(nport, time.time() + 10), "nginx did not start"
    res = {b: [] for b in bins}
    for r in range(rounds):
        order = bins if r % 2 == 0 else bins[::-1]
        k = r // 2 % len(order)
        for b in order[k:] + order[:k]:
            n, c, ev = one(b)
            per100k = c / n * 100_000 if n else float("nan")
            res[b].append(per100k)
            extra = ""
            if n:
                extra = (f", ctx-sw/conn {ev.get('context-switches', 0) / n:.2f}"
                         f", futex/conn {ev.get('syscalls:sys_enter_futex', 0) / n:.2f}")
            print(f"round {r} {b}: {n} conns ({n / secs:.0f}/s), {c:.2f} CPU s, "
                  f"{per100k:.3f} CPU s/100k conns{extra}", flush=True)
    for b in bins:
        print(f"{b}: median {median(res[b]):.3f} CPU s per 100k connections")
    first = median(res[bins[0]])
    for b in bins[1:]:
        print(f"ratio {b} / {bins[0]}: {median(res[b]) / first:.3f}")
finally:
    nginx.terminate()
    nginx.wait()
