/**
 * GET /v1/applier on a real server: `{"mode":"off"}` with the applier off;
 * in dry-run with a Nova that cannot be reached, the status names the failure
 * and placement keeps working.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplierStatus } from '../src/applier';
import { pbHost, workload } from './fixtures/clusters';
import { startTestServer, type TestServer } from './helpers/grpc';
import { freePort } from './setup/ports';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const get = async (p: string) => {
  const r = await fetch(`http://${t!.server.httpAddress}${p}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: (await r.json()) as unknown };
};

describe('GET /v1/applier', () => {
  it('applier off (the default): 200 {"mode":"off"}, and server.applier is null', async () => {
    t = await startTestServer();
    expect(t.server.applier).toBeNull();
    const r = await get('/v1/applier');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/application\/json/);
    expect(r.body).toEqual({ mode: 'off' });
  });

  it('dry-run with Nova unreachable: 200, mode dry-run, leader (single replica), lastErrors name Nova; Place still works', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-applier-http-'));
    const journalFile = path.join(dir, 'journal', 'applier.journal');
    const port = await freePort(); // nothing listens there
    t = await startTestServer({
      applier: {
        mode: 'dry-run',
        tickMs: 3_600_000,
        intervalMs: 86_400_000,
        journalFile,
        nova: { auth: { type: 'noauth' }, endpoint: `http://127.0.0.1:${port}/v2.1`, retries: 0, timeoutMs: 2_000 },
      },
    });
    expect(t.server.applier).not.toBeNull();
    await t.server.applier!.tick();

    const r = await get('/v1/applier');
    expect(r.status).toBe(200);
    const s = r.body as ApplierStatus;
    expect(s).toMatchObject({ mode: 'dry-run', leader: true, reconciled: false, migrationsInFlight: 0, hosts: { draining: [], standby: [], waking: [] } });
    // the start-up tick and this one each failed to read Nova, before acting on anything
    expect(s.lastErrors.length).toBeGreaterThan(0);
    for (const e of s.lastErrors) {
      expect(e.action).toBe('reconcile');
      expect(e.reason).toMatch(/^Nova GET \/\S+: connection failed/);
    }
    expect(JSON.stringify(s)).not.toMatch(/\n\s+at /); // reasons, not stacks

    // placement does not depend on the applier
    const reg = await t.rpc.registerHosts({ hosts: [pbHost('ah-a', { cpu: 8000, memGiB: 32 })] });
    expect(reg.registered).toBe(1);
    const placed = await t.rpc.place({ workload: workload('ah-w', 1000) });
    expect(placed.hostId).toBe('ah-a');
    expect((await get('/healthz')).status).toBe(200);
    expect(((await get('/v1/applier')).body as ApplierStatus).mode).toBe('dry-run');
  });
});
