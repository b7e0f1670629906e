import * as fs from 'node:fs';
import * as net from 'node:net';

/**
 * Loopback ports for services a test starts itself (influxd, etcd, Ironic, Nova's API, `wattplace
 * serve`), which must know their port before they bind it, and which a test may stop and start
 * again on the same port.
 *
 * A port the kernel hands out for `listen(0)` comes from its ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, 32768–60999 by default), the range every outgoing
 * connection takes its local port from too. Between the moment a test picks such a port and the
 * moment its service binds it (or while a restarted service is down), any client connection on the
 * machine may take it, and the service fails with EADDRINUSE: seen in the crash test, where
 * wattplace was restarted on the port it had before. So the ports here come from below that range,
 * where nothing takes a port unasked, in a block of its own per vitest worker (VITEST_POOL_ID), one
 * after the other from a random start; each is checked bindable, in case another program on the
 * machine holds it.
 */
const BLOCK = 500;
const SPAN = 12_000;

function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768; // not Linux: the IANA dynamic range starts at 49152, below that is safe too
  }
}

const worker = Math.max(0, Number(process.env.VITEST_POOL_ID ?? 1) - 1);
const low = ephemeralLow();
// at least 8 blocks below the range, else there is no room: fall back to the kernel's choice
const blocks = Math.floor(Math.min(SPAN, low - 1024) / BLOCK);
const base = blocks >= 8 ? low - blocks * BLOCK + (worker % blocks) * BLOCK : 0;
// a random start: the files a worker runs one after another do not reuse each other's ports
let next = Math.floor(Math.random() * BLOCK);

function bindable(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A loopback port nothing listens on, for a service the caller starts (see above). */
export async function freePort(): Promise<number> {
  if (base === 0) return bindable(0);
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = base + (next++ % BLOCK);
    try {
      return await bindable(port);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error(`no free loopback port in ${base}–${base + BLOCK - 1} (vitest worker ${worker + 1})`);
}
