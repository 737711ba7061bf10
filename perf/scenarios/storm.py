#!/usr/bin/env python3
"""A storm past maxconn: `storm.py ringlb|haproxy CLIENTS MAXCONN`.

CLIENTS clients connect at once (nbthread 2) to a backend that answers each
after 50 ms; then one more request. Prints what the clients saw, how long the
storm and the request after it took, and the proxy's RSS. RINGLB names the
binary (default: target/release/ringlb). Loopback only, bounded.
"""
import socket, threading, time, sys, subprocess, os
from common import TMP, backend, freeport, tcp_config, program
mode = sys.argv[1]; n = int(sys.argv[2]); maxconn = int(sys.argv[3])
# backend: answers each client after 50 ms, then closes
def serve(c):
    try:
        c.recv(100); time.sleep(0.05); c.sendall(b"ok"); c.close()
    except Exception: pass
bport = backend(serve)
port = freeport()
cfg = tcp_config(f"    maxconn {maxconn}\n    nbthread 2\n", port, bport)
open(f"{TMP}/ringlb-scenario-s.cfg","w").write(cfg)
prog = program(mode)
p = subprocess.Popen(prog+["-f",f"{TMP}/ringlb-scenario-s.cfg"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
res = {"ok":0, "refused":0, "reset":0, "timeout":0, "closed":0, "other":0}
lock = threading.Lock()
def client():
    s = socket.socket(); s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port)); s.sendall(b"x"); d = s.recv(10)
        k = "ok" if d == b"ok" else "closed"
    except ConnectionRefusedError: k = "refused"
    except ConnectionResetError: k = "reset"
    except socket.timeout: k = "timeout"
    except Exception as e: k = "other"
    finally: s.close()
    with lock: res[k] += 1
t0 = time.time()
ts = [threading.Thread(target=client) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
storm = time.time() - t0
t1 = time.time(); client(); after = time.time() - t1
rss = open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split("\n")[0].strip()
print(mode, "n", n, "maxconn", maxconn, res, "storm %.2fs" % storm, "after-storm request %.3fs" % after, "rss", rss)
p.kill()
