import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCsv, readPlanetLab, TraceError } from '../src/sim/traces';

const root = mkdtempSync(join(tmpdir(), 'wp-sim-traces-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PlanetLab folder with the given files (name → content). */
function folder(name: string, files: Record<string, string>): string {
  const d = join(root, name);
  mkdirSync(d);
  for (const [f, c] of Object.entries(files)) writeFileSync(join(d, f), c);
  return d;
}

function file(name: string, content: string): string {
  const f = join(root, name);
  writeFileSync(f, content);
  return f;
}

describe('PlanetLab reader', () => {
  it('reads percentages as fractions, files sorted by name', async () => {
    const d = folder('ok', { 'b-vm': '10\n20\n30\n', 'a-vm': '0\n100\n7' /* last line without a break */ });
    const t = await readPlanetLab(d, { steps: 3 });
    expect(t.ids).toEqual(['a-vm', 'b-vm']);
    // a-vm: 0 %, 100 %, 7 %; b-vm: 10 %, 20 %, 30 %  (Integer / 100.0, as CloudSim)
    expect(Array.from(t.util)).toEqual([0, 1, 0.07, 0.1, 0.2, 0.3]);
    expect(Array.from(t.arrival)).toEqual([0, 0]);
    expect(Array.from(t.departure)).toEqual([3, 3]);
  });

  it.each([
    ['a non-number', '10\nabc\n30\n', 2, 'expected an integer CPU percentage'],
    ['a fraction', '10\n20\n3.5\n', 3, 'expected an integer CPU percentage'],
    ['a negative value', '-1\n20\n30\n', 1, 'expected an integer CPU percentage'],
    ['a percentage above 100', '10\n101\n30\n', 2, 'within 0–100, got 101'],
    ['an empty line', '10\n\n30\n', 2, 'empty line'],
    ['too many lines', '1\n2\n3\n4\n', 4, 'more than 3 samples'],
    ['too few lines', '1\n2\n', 2, 'only 2 samples'],
  ])('rejects %s, naming file and line', async (label, content, line, problem) => {
    const d = folder(`bad-${label.replace(/\W+/g, '-')}`, { 'good-vm': '1\n2\n3\n', 'vm-x': content });
    const err = await readPlanetLab(d, { steps: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceError);
    const te = err as TraceError;
    expect(te.file).toBe(join(d, 'vm-x'));
    expect(te.line).toBe(line);
    expect(te.message).toContain(`${join(d, 'vm-x')}:${line}:`);
    expect(te.message).toContain(problem);
  });

  it('names the folder when it is missing or empty', async () => {
    await expect(readPlanetLab(join(root, 'nope'))).rejects.toThrow(/cannot read the trace folder/);
    await expect(readPlanetLab(folder('empty', {}))).rejects.toThrow(/no trace files/);
  });
});

describe('generic CSV reader', () => {
  it('reads demand rows, derives arrival, departure and peak', async () => {
    const f = file('ok.csv', '# comment\nworkload,step,cpu,mem\nw1,1,100,512\nw1,2,400,512\nw2,0,50,256\n');
    const t = await readCsv(f);
    expect(t.ids).toEqual(['w1', 'w2']);
    expect(t.steps).toBe(3);
    // w1 peak 400: util = cpu / 400 → [0, 0.25, 1]; w2 peak 50 → [1, 0, 0]
    expect(Array.from(t.util)).toEqual([0, 0.25, 1, 1, 0, 0]);
    expect(Array.from(t.mips)).toEqual([400, 50]);
    expect(Array.from(t.arrival)).toEqual([1, 0]);
    expect(Array.from(t.departure)).toEqual([3, 1]);
    expect(Array.from(t.memMb)).toEqual([512, 256]);
  });

  it('reads a utilization column with mips and explicit arrival/departure', async () => {
    const f = file('util.csv', 'workload,step,util,mips,arrival,departure\nw,0,0.5,2000,0,4\nw,1,0.25,2000,0,4\n');
    const t = await readCsv(f, { steps: 4 });
    expect(Array.from(t.util)).toEqual([0.5, 0.25, 0, 0]);
    expect(Array.from(t.mips)).toEqual([2000]);
    expect(Array.from(t.departure)).toEqual([4]);
  });

  it.each([
    ['no workload column', 'id,step,cpu\nw,0,1\n', 1, 'needs a "workload" column'],
    ['both cpu and util', 'workload,step,cpu,util\nw,0,1,1\n', 1, 'exactly one of "cpu" or "util"'],
    ['util without mips', 'workload,step,util\nw,0,0.5\n', 1, 'needs a "mips" column'],
    ['a non-numeric cpu', 'workload,step,cpu\nw,0,1\nw,1,lots\n', 3, 'column cpu: expected a number'],
    ['a fractional step', 'workload,step,cpu\nw,0.5,1\n', 2, 'column step: must be a whole number'],
    ['a negative demand', 'workload,step,cpu\nw,0,-5\n', 2, 'column cpu: must be ≥ 0'],
    ['a short row', 'workload,step,cpu,mem\nw,0,1\n', 2, 'expected 4 fields, got 3'],
    ['an empty workload id', 'workload,step,cpu\n,0,1\n', 2, 'column workload: empty'],
  ])('rejects %s, naming file and line', async (label, content, line, problem) => {
    const f = file(`bad-${label.replace(/\W+/g, '-')}.csv`, content);
    const err = await readCsv(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceError);
    expect((err as TraceError).line).toBe(line);
    expect((err as TraceError).message).toContain(`${f}:${line}:`);
    expect((err as TraceError).message).toContain(problem);
  });

  it('rejects a step beyond the grid and a file without rows', async () => {
    await expect(readCsv(file('beyond.csv', 'workload,step,cpu\nw,5,1\n'), { steps: 3 })).rejects.toThrow(/beyond.csv:2: column step: beyond the 3-step grid/);
    await expect(readCsv(file('header-only.csv', 'workload,step,cpu\n'))).rejects.toThrow(/no data rows/);
    await expect(readCsv(file('empty.csv', ''))).rejects.toThrow(/empty file/);
  });
});
