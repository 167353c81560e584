import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL, as a load balancer or connection pooler would be. With its
 * backend "down" it still accepts connections but closes them at once, which is what such a
 * proxy does while the database behind it is stopped.
 */
export interface TcpProxy {
  port: number;
  /** `false`: close every current connection and answer new ones by closing them. */
  setBackendUp(up: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let up = true;
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (!up) {
      client.resume();
      client.end();
      // Our side is done; do not wait for the peer to close its side (the fd would linger).
      setTimeout(() => client.destroy(), 1000).unref();
      return;
    }
    const backend = tcpConnect(targetPort, targetHost);
    track(backend);
    client.pipe(backend);
    backend.pipe(client);
    client.on('close', () => backend.destroy());
    backend.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    setBackendUp(value) {
      up = value;
      if (!value) for (const s of open) s.end();
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
