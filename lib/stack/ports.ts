/**
 * Loopback ports, for the local stack, the tests and the benchmarks alike (test/harness/ports.ts
 * re-exports this): whether a given port is free, and ports the kernel picks that are free right
 * now. A port found free can be taken by someone else before the caller binds it; callers that
 * must not race keep the socket instead.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const LOOPBACK = '127.0.0.1';

function listenTcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    const onError = (err: Error): void => reject(err);
    srv.once('error', onError);
    srv.listen({ host: LOOPBACK, port, exclusive: true }, () => {
      srv.removeListener('error', onError);
      resolve(srv);
    });
  });
}

function closeTcp(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    sock.unref();
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ address: LOOPBACK, port, exclusive: true }, () => {
      sock.removeListener('error', onError);
      resolve(sock);
    });
  });
}

function closeUdp(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => sock.close(() => resolve()));
}

/** Whether `port` on 127.0.0.1 can be listened on over TCP right now. */
export async function tcpPortFree(port: number): Promise<boolean> {
  try {
    await closeTcp(await listenTcp(port));
    return true;
  } catch {
    return false;
  }
}

/** Whether `port` on 127.0.0.1 can be bound over UDP right now. */
export async function udpPortFree(port: number): Promise<boolean> {
  try {
    await closeUdp(await bindUdp(port));
    return true;
  } catch {
    return false;
  }
}

function tcpPortOf(srv: net.Server): number {
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected TCP server address');
  return addr.port;
}

/** A TCP port on 127.0.0.1 that was free at the time of the call. */
export async function freeTcpPort(): Promise<number> {
  const srv = await listenTcp(0);
  const port = tcpPortOf(srv);
  await closeTcp(srv);
  return port;
}

/** A UDP port on 127.0.0.1 that was free at the time of the call. */
export async function freeUdpPort(): Promise<number> {
  const sock = await bindUdp(0);
  const port = sock.address().port;
  await closeUdp(sock);
  return port;
}

/** A port on 127.0.0.1 free for BOTH UDP and TCP (e.g. for a DNS server). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const srv = await listenTcp(0);
    const port = tcpPortOf(srv);
    let sock: dgram.Socket | undefined;
    try {
      sock = await bindUdp(port);
    } catch {
      sock = undefined; // UDP side taken; try another port
    }
    await closeTcp(srv);
    if (sock !== undefined) {
      await closeUdp(sock);
      return port;
    }
  }
  throw new Error('could not find a port free for both TCP and UDP on 127.0.0.1');
}

/**
 * `count` distinct TCP ports on 127.0.0.1, all held open simultaneously while
 * being chosen so they are guaranteed to differ from each other.
 */
export async function freeTcpPorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenTcp(0));
    return servers.map(tcpPortOf);
  } finally {
    await Promise.all(servers.map(closeTcp));
  }
}
