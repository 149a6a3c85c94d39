"""A TCP forwarder on loopback, standing for the address a failover moves (a virtual IP, a
Patroni-aware proxy): each new connection goes to the port written in --target-file at the time
it is accepted; connections already made keep their server until either side closes.
Writes the port it listens on to --port-file."""

import argparse
import asyncio
import os


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--target-file", required=True)
    arguments = parser.parse_args()

    async def forward(client_reader, client_writer):
        with open(arguments.target_file) as file:
            port = int(file.read().strip())
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    with open(arguments.port_file + ".tmp", "w") as file:
        file.write(str(server.sockets[0].getsockname()[1]))
    os.rename(arguments.port_file + ".tmp", arguments.port_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())
