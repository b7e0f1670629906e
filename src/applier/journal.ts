import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The applier's journal: every intended action is written (and flushed to
 * disk) before it is taken, and its outcome after. A restarted applier reads
 * it to learn which hosts it was acting on, then asks Nova and the BMCs what
 * actually happened (src/applier/applier.ts `reconcile`): the journal says
 * where to look, the cloud says what is true.
 *
 * Format: one JSON object per line (`JournalEntry`), appended; a torn last line
 * (a crash mid-write) is ignored when read. `compact` rewrites the file with
 * only the hosts' current states (atomically: write a new file, fsync, rename).
 */
export type JournalAction = 'disable' | 'enable' | 'migrate' | 'power-off' | 'power-on' | 'standby' | 'on';

export interface JournalEntry {
  /** ms since the epoch. */
  readonly t: number;
  /** intent: about to act; outcome: what came of it; state: a compacted host state. */
  readonly kind: 'intent' | 'outcome' | 'state';
  readonly action?: JournalAction;
  readonly host: string;
  readonly server?: string;
  readonly target?: string;
  readonly outcome?: 'ok' | 'failed';
  readonly reason?: string;
  /** kind state: the host's state as the applier left it. */
  readonly state?: 'standby';
  readonly cycle?: number;
}

export interface Journal {
  append(e: JournalEntry): Promise<void>;
  read(): Promise<JournalEntry[]>;
  /** Replaces the journal with one `state` entry per host in `standby`. */
  compact(standby: readonly string[], t: number): Promise<void>;
  close(): Promise<void>;
}

/** Longest line read back; longer lines are not the applier's own and are skipped. */
const MAX_LINE = 16 * 1024;

export class FileJournal implements Journal {
  private handle: fs.promises.FileHandle | null = null;
  /** Appends are serialized: each waits for the one before to reach the disk. */
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Creates the folder and opens the file; a start-up error names the path. */
  async open(): Promise<void> {
    await fs.promises.mkdir(path.dirname(path.resolve(this.file)), { recursive: true });
    this.handle = await fs.promises.open(this.file, 'a');
  }

  append(e: JournalEntry): Promise<void> {
    const line = `${JSON.stringify(e)}\n`;
    const next = this.tail.then(async () => {
      if (!this.handle) await this.open();
      await this.handle!.write(line);
      await this.handle!.datasync();
    });
    this.tail = next.catch(() => {});
    return next;
  }

  async read(): Promise<JournalEntry[]> {
    await this.tail;
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line || line.length > MAX_LINE) continue;
      try {
        const v = JSON.parse(line) as JournalEntry;
        if (v && typeof v === 'object' && typeof v.host === 'string' && typeof v.kind === 'string') out.push(v);
      } catch {
        // a torn last line from a crash mid-write
      }
    }
    return out;
  }

  async compact(standby: readonly string[], t: number): Promise<void> {
    const run = this.tail.then(async () => {
      const tmp = `${this.file}.tmp`;
      const h = await fs.promises.open(tmp, 'w');
      try {
        await h.write(standby.map((host) => `${JSON.stringify({ t, kind: 'state', host, state: 'standby' } satisfies JournalEntry)}\n`).join(''));
        await h.sync();
      } finally {
        await h.close();
      }
      await this.handle?.close();
      this.handle = null;
      await fs.promises.rename(tmp, this.file);
      await this.open();
    });
    this.tail = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close();
    this.handle = null;
  }
}
