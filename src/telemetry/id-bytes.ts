/**
 * Host ids by their UTF-8 bytes: finds the host a name in a request body
 * refers to without making a string of it first. The Kubernetes extender gets
 * up to thousands of node names per call; looking each up in a Map needs a
 * string per name (and the hashing and comparing of it), which costs more than
 * the lookup itself.
 *
 * Open addressing with linear probing on FNV-1a hashes of the bytes; the ids'
 * bytes sit back to back in one buffer. Hosts are only ever added (indices
 * never change), so the index grows with the inventory and is shared by all
 * snapshots: a snapshot of n hosts accepts only indices below n.
 */
export class IdBytesIndex {
  private bytes = new Uint8Array(1024);
  private used = 0;
  /** offsets[h] .. offsets[h + 1]: host h's bytes. */
  private offsets = new Int32Array(65);
  private count = 0;
  /**
   * Four ints per slot: host index + 1 (0 = empty), the id's hash, its
   * offset and length in `bytes`. A probe reads one slot and, when the hash
   * matches, the id's bytes: two places in memory per lookup.
   */
  private slots = new Int32Array(4 * 128);

  /** Adds host `h`'s id; hosts must be added in index order (h = count). */
  add(h: number, id: string): void {
    if (h !== this.count) throw new Error(`IdBytesIndex: host ${h} added out of order (expected ${this.count})`);
    const len = Buffer.byteLength(id);
    if (this.used + len > this.bytes.length) {
      const b = new Uint8Array(Math.max(this.bytes.length * 2, this.used + len));
      b.set(this.bytes.subarray(0, this.used));
      this.bytes = b;
    }
    Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length).write(id, this.used, 'utf8');
    if (h + 2 > this.offsets.length) {
      const o = new Int32Array(this.offsets.length * 2);
      o.set(this.offsets);
      this.offsets = o;
    }
    this.offsets[h] = this.used;
    this.used += len;
    this.offsets[h + 1] = this.used;
    this.count++;
    if (this.count * 2 > this.slots.length / 4) this.rehash(this.slots.length / 2);
    else this.place(h);
  }


  /** The host whose id is the UTF-8 text b[start..end), or −1. */
  find(b: Uint8Array, start: number, end: number): number {
    const slots = this.slots;
    const mask = slots.length / 4 - 1;
    const len = end - start;
    const bytes = this.bytes;
    const x = hash(b, start, end);
    for (let p = x & mask; ; p = (p + 1) & mask) {
      const q = 4 * p;
      const s = slots[q];
      if (s === 0) return -1;
      if (slots[q + 1] !== x || slots[q + 3] !== len) continue;
      const o = slots[q + 2];
      let k = 0;
      while (k < len && bytes[o + k] === b[start + k]) k++;
      if (k === len) return s - 1;
    }
  }

  private place(h: number): void {
    const slots = this.slots;
    const mask = slots.length / 4 - 1;
    const o = this.offsets[h];
    const len = this.offsets[h + 1] - o;
    const x = hash(this.bytes, o, o + len);
    let p = x & mask;
    while (slots[4 * p] !== 0) p = (p + 1) & mask;
    slots[4 * p] = h + 1;
    slots[4 * p + 1] = x;
    slots[4 * p + 2] = o;
    slots[4 * p + 3] = len;
  }

  /** A table of `size` slots (a power of two) holding every host. */
  private rehash(size: number): void {
    this.slots = new Int32Array(4 * size);
    for (let h = 0; h < this.count; h++) this.place(h);
  }
}

/** FNV-1a, 32 bits (as a signed int, the way the slots keep it). */
function hash(b: Uint8Array, start: number, end: number): number {
  let x = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) x = Math.imul(x ^ b[i], 0x01000193);
  return x;
}
