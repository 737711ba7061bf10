import asyncio, sys
async def handle(r, w):
    try:
        d = await r.read()  # up to EOF
        w.write(d); await w.drain()
    except Exception: pass
    w.close()
async def main():
    s = await asyncio.start_server(handle, '127.0.0.1', int(sys.argv[1]), backlog=4096)
    async with s: await s.serve_forever()
asyncio.run(main())
