/**
 * Nesting depth of JSON text, measured as the bytes arrive, so a body nested
 * past the limit is refused after the first `max + 1` brackets instead of
 * after a parser has worked through all of it (16 MiB of `[` holds
 * JSON.parse for seconds before it fails).
 *
 * The grammar needed is small (RFC 8259 §2, §7): `[` and `{` open a level and
 * `]` and `}` close one, except inside strings; a string starts and ends at
 * `"`, and inside it `\` escapes the next byte. Multi-byte UTF-8 sequences
 * never contain these ASCII bytes (every byte of one is ≥ 0x80), so bytes can
 * be scanned without decoding. Malformed JSON is not this scanner's business:
 * the parser refuses it afterwards.
 */
export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Deepest nesting seen so far. */
  deepest = 0;

  constructor(readonly max: number) {}

  /** Feeds the next bytes; false as soon as the nesting exceeds `max` (the rest is not read). */
  feed(chunk: Uint8Array): boolean {
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const max = this.max;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === 0x5c) escaped = true; // backslash
        else if (b === 0x22) inString = false; // "
      } else if (b === 0x22) inString = true;
      else if (b === 0x5b || b === 0x7b) {
        // [ {
        if (++depth > max) {
          this.depth = depth;
          this.deepest = depth;
          return false;
        }
        if (depth > this.deepest) this.deepest = depth;
      } else if (b === 0x5d || b === 0x7d) depth--; // ] }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return true;
  }
}
