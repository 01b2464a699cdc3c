// A tiny web service for berth's examples and tests. It listens on $PORT, answers every path
// with a greeting that names its replica, and shuts down cleanly on SIGTERM so that in-flight
// requests finish during a rolling replacement.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const replica = process.env.BERTH_REPLICA ?? '0';
const greeting = process.env.GREETING ?? 'hello';

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-replica': replica });
  res.end(`${greeting} from replica ${replica}\n`);
});

server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${port} (replica ${replica})`);
});

process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
