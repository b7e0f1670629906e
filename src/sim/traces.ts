import { closeSync, createReadStream, openSync, promises as fsp, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Workload traces as the simulator consumes them: one row of utilization
 * fractions per workload, all on the same step grid. A workload's demand at
 * step k is util[k] × mips (MIPS, the CPU unit of the CloudSim experiment;
 * any consistent CPU unit works). Memory demand is what the trace says: the
 * PlanetLab traces carry none, so their workloads ask for 0 bytes and their
 * RAM size only sets the migration time.
 */
export interface TraceSet {
  readonly ids: string[];
  /** Steps per workload row (288 for a PlanetLab day). */
  readonly steps: number;
  /** Row-major: util[v * steps + k], a fraction (may exceed 1 for generic traces that overcommit). */
  readonly util: Float64Array;
  /** Peak CPU of the workload (MIPS): demand = util × mips. NaN = assign from the workload types. */
  readonly mips: Float64Array;
  /** Memory demand per workload (MB); constant over its life. */
  readonly memMb: Float64Array;
  /** RAM size (MB) used for migration time; NaN = assign from the workload types. */
  readonly ramMb: Float64Array;
  /** First step the workload exists (inclusive) and the step it leaves (exclusive). */
  readonly arrival: Int32Array;
  readonly departure: Int32Array;
  /** Where the traces came from, for reports. */
  readonly source: string;
}

/** A malformed trace: names the file and the 1-based line. */
export class TraceError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${problem}` : `${file}: ${problem}`);
    this.name = 'TraceError';
  }
}

/**
 * Streams a text file line by line without building a string per chunk:
 * calls `onLine(text, lineNo)` for every line (1-based, without the line
 * break; a final line without a break counts too).
 */
export async function streamLines(file: string, onLine: (line: string, lineNo: number) => void): Promise<number> {
  let rest = '';
  let lineNo = 0;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 });
  for await (const chunk of stream as AsyncIterable<string>) {
    let data = rest + chunk;
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && data.charCodeAt(end - 1) === 13) end--;
      onLine(data.slice(start, end), ++lineNo);
      start = nl + 1;
    }
    rest = data.slice(start);
    data = '';
  }
  if (rest.length > 0) onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++lineNo);
  return lineNo;
}


/**
 * One PlanetLab file's bytes into util[base .. base + steps): one integer
 * percentage 0–100 per line, spaces and tabs around it allowed, LF or CRLF
 * line ends, the last line break optional. Anything else is a TraceError
 * naming the file and the 1-based line, with the same messages as a line
 * reader would give.
 */
export function parsePlanetLab(buf: Uint8Array, file: string, steps: number, util: Float64Array, base: number): void {
  let k = 0;
  let line = 0;
  let i = 0;
  const len = buf.length;
  while (i < len) {
    line++;
    // one line: [blanks] digits [blanks] (\r)? \n
    const start = i;
    let end = i;
    while (end < len && buf[end] !== 10) end++;
    let stop = end;
    if (stop > start && buf[stop - 1] === 13) stop--;
    let j = start;
    while (j < stop && (buf[j] === 32 || buf[j] === 9)) j++;
    let value = 0;
    let digits = 0;
    while (j < stop && buf[j] >= 48 && buf[j] <= 57) {
      if (digits < 16) value = value * 10 + (buf[j] - 48);
      digits++;
      j++;
    }
    while (j < stop && (buf[j] === 32 || buf[j] === 9 || buf[j] === 13)) j++;
    if (digits === 0 || j !== stop) {
      const text = Buffer.from(buf.subarray(start, stop)).toString('utf8');
      if (text.trim().length === 0) throw new TraceError(file, line, 'empty line: expected an integer CPU percentage 0–100');
      throw new TraceError(file, line, `expected an integer CPU percentage 0–100, got ${JSON.stringify(text.slice(0, 40))}`);
    }
    if (value > 100) throw new TraceError(file, line, `CPU percentage must be within 0–100, got ${value}`);
    if (k >= steps) throw new TraceError(file, line, `more than ${steps} samples: expected exactly ${steps} lines`);
    // Integer / 100.0, as CloudSim's UtilizationModelPlanetLabInMemory does.
    util[base + k++] = value / 100;
    i = end + 1;
  }
  if (k < steps) throw new TraceError(file, line, `only ${k} samples: expected exactly ${steps} lines`);
}

export interface PlanetLabOptions {
  /** Steps per file (288 = one day of 5-minute samples). */
  readonly steps?: number;
  /** Only the first `limit` files (sorted), for quick runs. */
  readonly limit?: number;
  /** Told about entries that are skipped (dangling symlinks); default: a process warning. */
  readonly warn?: (message: string) => void;
}

/**
 * The trace files of a folder: regular files and symlinks to regular files
 * (followed, as `ls -L`, `cat` and every tool that reads a folder do), hidden
 * entries and sub-folders left out. A dangling symlink is skipped with a
 * warning rather than failing the whole run. stat is only called for
 * symlinks, so a folder of plain files costs one readdir.
 */
export async function traceFiles(dir: string, warn: (message: string) => void): Promise<string[]> {
  const out: string[] = [];
  const links: string[] = [];
  for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
    if (d.name.startsWith('.')) continue;
    if (d.isFile()) out.push(d.name);
    else if (d.isSymbolicLink()) links.push(d.name);
  }
  // stat one by one, synchronously: for a folder of 58,720 symlinks that took 0.67 s here, 64 at a
  // time through the thread pool 1.35 s (benchmarks/RESULTS.md "Simulator at scale").
  for (const n of links) {
    let st: import('node:fs').Stats;
    try {
      st = statSync(join(dir, n));
    } catch (e) {
      warn(`${join(dir, n)}: skipped, the symlink's target cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    if (st.isFile()) out.push(n);
  }
  return out;
}

/**
 * The PlanetLab format (CoMon, as shipped with CloudSim): a folder with one
 * file per VM, one integer CPU percentage (0–100) per line, one line per
 * 5-minute step. File names are sorted so a run is reproducible (CloudSim
 * takes the directory-listing order, which moves its results by about 3 %).
 * Files are streamed; a malformed line is a TraceError naming file and line.
 */
export async function readPlanetLab(dir: string, opts: PlanetLabOptions = {}): Promise<TraceSet> {
  const steps = opts.steps ?? 288;
  let names: string[];
  try {
    names = await traceFiles(dir, opts.warn ?? ((m) => process.emitWarning(m, 'TraceWarning')));
  } catch (e) {
    throw new TraceError(dir, 0, `cannot read the trace folder: ${(e as Error).message}`);
  }
  names.sort();
  if (opts.limit !== undefined) names = names.slice(0, opts.limit);
  if (names.length === 0) throw new TraceError(dir, 0, 'no trace files in the folder');
  const n = names.length;
  const util = new Float64Array(n * steps);
  // One open / read / close per file into one reused buffer, synchronously, and a byte loop over it.
  // Measured on 58,720 files here: 0.85 s, where fs.promises.readFile 64 at a time took 6.4 s and a
  // read stream per file more (thread-pool hand-offs and promise turns, not the disk). The
  // simulator is a batch command with nothing else on its event loop to hold up.
  let buf = Buffer.allocUnsafe(1 << 16);
  for (let v = 0; v < n; v++) {
    const file = join(dir, names[v]);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new TraceError(file, 0, `cannot read: ${(e as Error).message}`);
    }
    let size = 0;
    try {
      for (;;) {
        if (size === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, size);
          buf = bigger;
        }
        const got = readSync(fd, buf, size, buf.length - size, null);
        if (got === 0) break;
        size += got;
      }
    } catch (e) {
      throw new TraceError(file, 0, `cannot read: ${(e as Error).message}`);
    } finally {
      closeSync(fd);
    }
    parsePlanetLab(buf.subarray(0, size), file, steps, util, v * steps);
  }
  return {
    ids: names,
    steps,
    util,
    mips: new Float64Array(n).fill(NaN),
    memMb: new Float64Array(n),
    ramMb: new Float64Array(n).fill(NaN),
    arrival: new Int32Array(n),
    departure: new Int32Array(n).fill(steps),
    source: `planetlab:${dir}`,
  };
}

export interface CsvOptions {
  /** Steps of the grid; rows beyond it are an error. Default: the largest step seen + 1. */
  readonly steps?: number;
}

/**
 * The generic CSV format, one row per workload and step, header first:
 *
 *   workload,step,cpu,mem            demand in CPU units (MIPS) and MB
 *   workload,step,util[,mem]         utilization fraction 0–1 of the workload's `mips`
 *
 * Optional columns: `mips` (peak CPU, required with `util`), `ram` (MB, for
 * migration time; default = mem), `arrival` / `departure` (steps; default the
 * first step seen and one past the last). Steps without a row have zero demand.
 * Lines starting with `#` are comments. A malformed line is a TraceError
 * naming the file and the line.
 */
export async function readCsv(file: string, opts: CsvOptions = {}): Promise<TraceSet> {
  let cols: Record<string, number> | null = null;
  const index = new Map<string, number>();
  const ids: string[] = [];
  const rows: { v: number; k: number; x: number }[] = [];
  const mem: number[] = [];
  const mips: number[] = [];
  const ram: number[] = [];
  const arr: number[] = [];
  const dep: number[] = [];
  const first: number[] = [];
  const last: number[] = [];
  let useUtil = false;
  let maxStep = -1;
  const num = (s: string | undefined, no: number, name: string, min = 0): number => {
    const t = (s ?? '').trim();
    const x = t === '' ? NaN : Number(t);
    if (!Number.isFinite(x)) throw new TraceError(file, no, `column ${name}: expected a number, got ${JSON.stringify(t.slice(0, 40))}`);
    if (x < min) throw new TraceError(file, no, `column ${name}: must be ≥ ${min}, got ${x}`);
    return x;
  };
  try {
    await streamLines(file, (line, no) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const f = line.split(',');
      if (!cols) {
        cols = {};
        f.forEach((name, i) => ((cols as Record<string, number>)[name.trim().toLowerCase()] = i));
        const c = cols as Record<string, number>;
        if (c.workload === undefined) throw new TraceError(file, no, 'header: needs a "workload" column');
        if (c.step === undefined) throw new TraceError(file, no, 'header: needs a "step" column');
        if ((c.cpu === undefined) === (c.util === undefined)) throw new TraceError(file, no, 'header: needs exactly one of "cpu" or "util"');
        useUtil = c.util !== undefined;
        if (useUtil && c.mips === undefined) throw new TraceError(file, no, 'header: a "util" column needs a "mips" column (peak CPU of the workload)');
        return;
      }
      const c = cols as Record<string, number>;
      if (f.length < Object.keys(c).length) throw new TraceError(file, no, `expected ${Object.keys(c).length} fields, got ${f.length}`);
      const id = f[c.workload].trim();
      if (!id) throw new TraceError(file, no, 'column workload: empty');
      const k = num(f[c.step], no, 'step');
      if (!Number.isInteger(k)) throw new TraceError(file, no, `column step: must be a whole number, got ${k}`);
      if (opts.steps !== undefined && k >= opts.steps) throw new TraceError(file, no, `column step: beyond the ${opts.steps}-step grid, got ${k}`);
      let v = index.get(id);
      if (v === undefined) {
        v = ids.length;
        index.set(id, v);
        ids.push(id);
        mem.push(0);
        mips.push(NaN);
        ram.push(NaN);
        arr.push(NaN);
        dep.push(NaN);
        first.push(k);
        last.push(k);
      }
      const x = useUtil ? num(f[c.util], no, 'util') : num(f[c.cpu], no, 'cpu');
      if (c.mem !== undefined) mem[v] = Math.max(mem[v], num(f[c.mem], no, 'mem'));
      if (c.mips !== undefined) {
        const m = num(f[c.mips], no, 'mips');
        if (m <= 0) throw new TraceError(file, no, `column mips: must be > 0, got ${m}`);
        mips[v] = m;
      }
      if (c.ram !== undefined) ram[v] = num(f[c.ram], no, 'ram');
      if (c.arrival !== undefined) arr[v] = num(f[c.arrival], no, 'arrival');
      if (c.departure !== undefined) dep[v] = num(f[c.departure], no, 'departure');
      if (k < first[v]) first[v] = k;
      if (k > last[v]) last[v] = k;
      if (k > maxStep) maxStep = k;
      rows.push({ v, k, x });
    });
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(file, 0, `cannot read: ${(e as Error).message}`);
  }
  if (!cols) throw new TraceError(file, 0, 'empty file: expected a header line');
  if (ids.length === 0) throw new TraceError(file, 0, 'no data rows');
  const steps = opts.steps ?? maxStep + 1;
  const n = ids.length;
  const util = new Float64Array(n * steps);
  if (!useUtil) {
    // cpu demand: peak = the largest demand seen (or the mips column), util = cpu / peak.
    for (const r of rows) if (!(mips[r.v] >= r.x)) mips[r.v] = Math.max(Number.isNaN(mips[r.v]) ? 0 : mips[r.v], r.x);
    for (let v = 0; v < n; v++) if (!(mips[v] > 0)) mips[v] = 1;
    for (const r of rows) util[r.v * steps + r.k] = r.x / mips[r.v];
  } else {
    for (const r of rows) util[r.v * steps + r.k] = r.x;
  }
  const arrival = new Int32Array(n);
  const departure = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    arrival[v] = Number.isNaN(arr[v]) ? first[v] : arr[v];
    departure[v] = Number.isNaN(dep[v]) ? last[v] + 1 : dep[v];
    if (departure[v] <= arrival[v]) throw new TraceError(file, 0, `workload ${ids[v]}: departure (${departure[v]}) must be after arrival (${arrival[v]})`);
    if (Number.isNaN(ram[v])) ram[v] = mem[v];
  }
  return {
    ids,
    steps,
    util,
    mips: Float64Array.from(mips),
    memMb: Float64Array.from(mem),
    ramMb: Float64Array.from(ram),
    arrival,
    departure,
    source: `csv:${file}`,
  };
}
