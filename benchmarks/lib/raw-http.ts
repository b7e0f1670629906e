/**
 * A lean HTTP/1.1 keep-alive client for latency benchmarks: one connection,
 * one request at a time, request bytes prepared once, and responses read into
 * one reused buffer (net's `onread`) and only counted. Node's http client
 * allocates a Buffer per socket read; with answers of 100 KB and more that
 * garbage drives the client into old-space collections of several ms, which
 * then show up as the server's tail latency. kube-scheduler's Go client does
 * not pay that in our process, so neither should the measurement.
 */
import * as net from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** From the first request byte written to the last response byte read. */
  readonly ns: number;
  /** Body bytes received. */
  readonly bytes: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

export class RawHttpClient {
  private readonly sock: net.Socket;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pending?: {
    resolve: (r: RawResponse) => void;
    reject: (e: Error) => void;
    t0: bigint;
    head: Buffer[];
    status: number;
    left: number; // body bytes still expected; -1 until the head is read
    bytes: number;
  };
  private readonly ready: Promise<void>;

  constructor(
    private readonly host: string,
    port: number,
  ) {
    this.sock = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: this.buf, callback: (n: number, b: Uint8Array) => (this.onData(b, n), true) },
    });
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('error', (e) => this.pending?.reject(e));
    this.sock.on('close', () => this.pending?.reject(new Error('connection closed')));
  }

  /** The request bytes for POST `path` with a JSON `body` (and extra header lines), to pass to `send`. */
  request(path: string, body: Buffer, headers: Record<string, string> = {}): Buffer {
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const head = `POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  }

  async send(request: Buffer): Promise<RawResponse> {
    await this.ready;
    if (this.pending) throw new Error('one request at a time');
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, t0: process.hrtime.bigint(), head: [], status: 0, left: -1, bytes: 0 };
      this.sock.write(request);
    });
  }

  private onData(b: Uint8Array, n: number): void {
    const p = this.pending;
    if (!p) return;
    let body = 0; // offset of body bytes in this read
    if (p.left < 0) {
      // The head is small; copy it until its end shows up (it may span reads).
      p.head.push(Buffer.from(b.subarray(0, n)));
      const all = Buffer.concat(p.head);
      const end = all.indexOf(CRLF2);
      if (end < 0) return;
      const head = all.subarray(0, end).toString('latin1');
      p.status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!m) return this.fail(new Error('response without Content-Length'));
      p.left = Number(m[1]);
      body = n - (all.length - (end + 4)); // the body bytes of this read start here
    }
    const got = n - body;
    p.bytes += got;
    p.left -= got;
    if (p.left <= 0) {
      this.pending = undefined;
      p.resolve({ status: p.status, ns: Number(process.hrtime.bigint() - p.t0), bytes: p.bytes });
    }
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  close(): void {
    this.sock.destroy();
  }
}
