#!/usr/bin/env python3
"""A TCP proxy that adds latency: every byte a client sends reaches the server DELAY_MS later (in
order, without slowing the stream down otherwise), as over a network with that one-way delay.
Between rclone and Azurite it gives each storage request the latency a remote blob service has.

Usage: latency-proxy.py LISTEN_PORT TARGET_PORT DELAY_MS   (both on 127.0.0.1)
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    """Copies reader to writer; with a delay, each piece is written `delay` seconds after it came."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def forward():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(forward())
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    finally:
        queue.put_nowait((0, None))
        try:
            await sender
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()


async def serve(listen_port, target_port, delay):
    async def connect(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, 0),
                             return_exceptions=True)

    server = await asyncio.start_server(connect, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0))
