#!/usr/bin/env python3
"""Reloads under load: `reload.py ringlb|haproxy RELOADS [HARD_STOP_AFTER]`.

Four clients connect in a loop (connect, send, read the echo) while a new
process is started with `-sf <old pids>` every 200 ms; then 20 more requests.
Prints what the clients saw, the processes left, the listening sockets and
the RSS of the first process and of those left. RINGLB names the binary
(default: target/release/ringlb). Loopback only, bounded in count and time.
"""
import socket, threading, time, sys, subprocess, os
from common import TMP, backend, freeport, tcp_config, program
mode = sys.argv[1]; reloads = int(sys.argv[2]); hsa = sys.argv[3] if len(sys.argv) > 3 else ""
def serve(c):
    try:
        d = c.recv(100); c.sendall(d); c.close()
    except Exception: pass
bport = backend(serve)
port = freeport()
g = f"    hard-stop-after {hsa}\n" if hsa else ""
cfg = tcp_config(f"    maxconn 1000\n{g}", port, bport)
open(f"{TMP}/ringlb-scenario-r-{mode}.cfg","w").write(cfg)
prog = program(mode)
procs = []
def start(old):
    args = prog + ["-f", f"{TMP}/ringlb-scenario-r-{mode}.cfg"]
    if old: args += ["-sf"] + [str(p.pid) for p in old]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p); return p
start([])
time.sleep(0.5)
res = {"ok":0, "refused":0, "reset":0, "timeout":0, "closed":0, "other":0}
lock = threading.Lock(); stop = False
def loop():
    while not stop:
        s = socket.socket(); s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port)); s.sendall(b"hello"); d = s.recv(10)
            k = "ok" if d == b"hello" else "closed"
        except ConnectionRefusedError: k = "refused"
        except ConnectionResetError: k = "reset"
        except socket.timeout: k = "timeout"
        except Exception: k = "other"
        finally: s.close()
        with lock: res[k] += 1
ts = [threading.Thread(target=loop) for _ in range(4)]
for t in ts: t.start()
rss0 = int(open(f"/proc/{procs[0].pid}/status").read().split("VmRSS:")[1].split()[0])
for i in range(reloads):
    time.sleep(0.2)
    alive = [p for p in procs if p.poll() is None]
    start(alive)
time.sleep(1.5)
stop = True
for t in ts: t.join()
after = dict(res)
# after the run: 20 requests
res2 = {"ok":0, "refused":0, "reset":0, "timeout":0, "closed":0, "other":0}
for _ in range(20):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port)); s.sendall(b"hello"); d = s.recv(10); k = "ok" if d == b"hello" else "closed"
    except Exception as e: k = type(e).__name__
    res2[k] = res2.get(k,0)+1
    s.close()
time.sleep(0.5)
alive = [p for p in procs if p.poll() is None]
listen = subprocess.run(["ss","-ltnH",f"sport = :{port}"], capture_output=True, text=True).stdout.strip().count("\n")+1 if subprocess.run(["ss","-ltnH",f"sport = :{port}"], capture_output=True, text=True).stdout.strip() else 0
rss1 = sum(int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0]) for p in alive)
print(mode, "reloads", reloads, "hsa", hsa or "-", "loop", after, "after", res2, "procs left", len(alive), "listeners", listen, "rss first %d kB, left %d kB" % (rss0, rss1))
for p in alive: p.kill()
