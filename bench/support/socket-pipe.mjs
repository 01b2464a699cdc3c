// The ceiling of any proxy written in Node: every client connection is piped, byte for byte, to
// its own connection to the upstream. No HTTP parsing, no routing, no pooling: what is left is the
// cost of moving bytes through one Node event loop (two sockets per request/response, each way).
// Used by bench/proxy.mjs.   node bench/support/socket-pipe.mjs UPSTREAM_PORT
// Prints the port it listens on (loopback, chosen by the OS) as its first line.
import { connect, createServer } from 'node:net';

const upstreamPort = Number(process.argv[2]);
if (!Number.isInteger(upstreamPort)) throw new Error('usage: socket-pipe.mjs UPSTREAM_PORT');

const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
