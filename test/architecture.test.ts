import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Imports point one way: domain → power → telemetry → placement / solver →
 * decision → api (with the generated protobuf code beside api), then the
 * applier, then sim (which drives the applier's logic with a simulated cloud),
 * and the entry points (main, server, config) on top. A module may import its
 * own layer and the layers below it, never one above or beside it.
 */
const RANK: Record<string, number> = { domain: 0, power: 1, telemetry: 2, placement: 3, solver: 3, decision: 4, gen: 5, api: 6, applier: 7, sim: 8 };
const SRC = path.resolve(__dirname, '../src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

function violations(): string[] {
  const out: string[] = [];
  for (const layer of Object.keys(RANK)) {
    if (layer === 'gen') continue;
    for (const file of files(path.join(SRC, layer))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import\(|^import)\s*'(\.[^']+)'/gm)) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
        const rank = RANK[target];
        const from = path.relative(SRC, file);
        // config.ts is a leaf (zod schema, no project imports); server and main sit on top.
        if (rank === undefined && target !== 'config') out.push(`${from} imports ${m[1]} (the entry point)`);
        else if (rank !== undefined && target !== layer && (rank > RANK[layer] || (rank === RANK[layer] && target !== layer))) {
          out.push(`${from} imports ${m[1]} (${target} is not below ${layer})`);
        }
      }
    }
  }
  return out;
}

describe('architecture', () => {
  it('imports point one way between the layers', () => {
    expect(violations()).toEqual([]);
  });

  it('config.ts imports nothing from the layers, so any layer may read its types', () => {
    const text = fs.readFileSync(path.join(SRC, 'config.ts'), 'utf8');
    expect([...text.matchAll(/from\s*'(\.[^']+)'/g)].map((m) => m[1])).toEqual([]);
  });
});
