/**
 * JSON text written straight into one growing buffer: the Kubernetes
 * extender's answers list up to thousands of nodes, and building them as
 * objects (or concatenated strings) and serializing them again costs more than
 * the decision itself. Strings of printable ASCII (node names, the filters'
 * reasons) are copied byte by byte; any other string goes through
 * JSON.stringify, so the output is always valid JSON in UTF-8.
 */
export class JsonWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(sizeHint = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
  }

  /** Room for `n` more bytes. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  /** Text that is already JSON in ASCII: punctuation, keys with their quotes, literals. */
  raw(s: string): this {
    const n = s.length;
    this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
    return this;
  }

  /** A string value, quoted and escaped. */
  str(s: string): this {
    const n = s.length;
    this.room(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return this.escaped(s);
      b[p++] = c;
    }
    b[p++] = 0x22;
    this.pos = p;
    return this;
  }

  private escaped(s: string): this {
    const j = JSON.stringify(s);
    this.room(Buffer.byteLength(j));
    this.pos += this.buf.write(j, this.pos);
    return this;
  }

  /** A number (integers and finite values; JSON has no NaN). */
  num(v: number): this {
    if (v >= 0 && v <= 9 && v === Math.floor(v)) {
      this.room(1);
      this.buf[this.pos++] = 0x30 + v;
      return this;
    }
    return this.raw(Number.isFinite(v) ? String(v) : 'null');
  }

  /** Bytes that already are JSON text (a value copied from a request). */
  bytes(src: Uint8Array, start: number, end: number): this {
    this.room(end - start);
    this.buf.set(src.subarray(start, end), this.pos);
    this.pos += end - start;
    return this;
  }

  /** The text written so far: a view of the writer's buffer (the writer must not be used after). */
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
