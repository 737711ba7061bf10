#!/usr/bin/env python3
"""Short connections with long timeouts: `shortconns.py BINARY TOTAL`.

TOTAL short connections (50 at a time) through a proxy with `timeout
client/server 100s`, printing the proxy's RSS every 10,000 and 5 s after the
last. BINARY is ringlb's or haproxy's path. Loopback only, bounded.
"""
import asyncio, sys, socket, subprocess, time, os
from common import HERE, TMP, freeport, tcp_config
prog, total = sys.argv[1], int(sys.argv[2])
bport, fport = freeport(), freeport()
be = subprocess.Popen([sys.executable, os.path.join(HERE, 'shortconns_backend.py'), str(bport)])
cfg = tcp_config("    maxconn 5000\n", fport, bport, "100s")
open(f'{TMP}/ringlb-scenario-leak.cfg','w').write(cfg)
px = subprocess.Popen([prog,'-f',f'{TMP}/ringlb-scenario-leak.cfg'] + (['-db'] if 'haproxy' in prog else []), stdout=subprocess.DEVNULL)
time.sleep(1)
def rss():
    # sum over the process (haproxy -db: one process)
    for l in open(f'/proc/{px.pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
done = 0; errors = 0
async def one():
    global done, errors
    try:
        r, w = await asyncio.open_connection('127.0.0.1', fport)
        w.write(b'x'); w.write_eof()
        d = await r.read()
        w.close()
        if d != b'x': errors += 1
    except Exception: errors += 1
    done += 1
async def worker(n):
    for _ in range(n): await one()
async def main():
    t0=time.time()
    print('start RSS kB', rss())
    conc=50
    for chunk in range(total//10000):
        await asyncio.gather(*[worker(10000//conc) for _ in range(conc)])
        print(f'{done} conns, {done/(time.time()-t0):.0f}/s, RSS kB {rss()}, errors {errors}', flush=True)
asyncio.run(main())
time.sleep(5)
print('after 5 s idle RSS kB', rss())
px.kill(); be.kill()
