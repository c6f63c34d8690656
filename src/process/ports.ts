import { createServer, type Server } from 'node:net';

function listenEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

/**
 * Picks a free TCP port on 127.0.0.1 for each name: binds port 0 once per name, reads the port
 * the kernel chose, then releases them all. All sockets are held until every port is chosen, so
 * the ports are distinct. A port is only free at the moment it is chosen: another program may
 * take it before the service binds it (the runner reports `EADDRINUSE` in its error hint).
 * Repeated names get one port.
 *
 * @example
 * const ports = await allocatePorts(['http', 'metrics']);
 * // { http: 41523, metrics: 41524 }
 */
export async function allocatePorts<Name extends string>(
  names: readonly Name[],
): Promise<Record<Name, number>> {
  const unique = [...new Set(names)];
  const servers: Server[] = [];
  try {
    for (let i = 0; i < unique.length; i++) servers.push(await listenEphemeral());
    const ports = {} as Record<Name, number>;
    unique.forEach((name, i) => {
      const address = servers[i]?.address();
      if (typeof address !== 'object' || address === null) {
        throw new Error('a listening TCP server has no address');
      }
      ports[name] = address.port;
    });
    return ports;
  } finally {
    await Promise.all(servers.map(close));
  }
}
