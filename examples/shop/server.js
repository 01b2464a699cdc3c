// A second example with another shape: more replicas, a custom domain, JSON answers.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const replica = process.env.BERTH_REPLICA ?? '0';
const currency = process.env.CURRENCY ?? 'EUR';

const server = createServer((req, res) => {
  if (req.url === '/ready') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ready":true}\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-replica': replica });
  res.end(JSON.stringify({ shop: 'open', currency, replica }) + '\n');
});

server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
