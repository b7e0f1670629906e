import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpFront, type HttpFront } from '../../../test/fixtures/http-front';
import { KEYSTONE_PASSWORD, KEYSTONE_SECRET, startCredentialKeystone, type Keystone } from '../../../test/fixtures/keystone';
import { startNovaBox, type NovaBox } from '../../../test/fixtures/nova-box';
import { until } from '../../../test/helpers/until';
import type { CloudServer } from '../ports';
import { MAX_BODY_BYTES } from './http';
import { LIVE_MIGRATE_MICROVERSION, NovaClient, READ_MICROVERSION } from './nova';

/**
 * The Nova client against Nova's real API, scheduler and fake computes
 * (nova-box, noauth). Every state the client reports is also read back from
 * Nova with a raw call of the fixture. A small front server between the two
 * counts the requests that reach Nova and, for the retry cases, answers some
 * itself (Nova cannot be made to fail with a 5xx on demand).
 *
 * Hosts: 3 computes of 4 vCPUs and 6144 MB (Nova reserves 512 MB per host:
 * 5632 MB schedulable, RAM allocation ratio 1.0). Nova pages listings by
 * one (`[api] max_limit = 1`) so every listing follows its pages.
 */
let nova: NovaBox;
let front: HttpFront;
/** Sleeps the client's back-off asked for (ms), instead of sleeping. */
let slept: number[];
const fastSleep = async (ms: number): Promise<void> => {
  slept.push(ms);
};

const client = (over: Record<string, unknown> = {}): NovaClient =>
  new NovaClient({ auth: { type: 'noauth' }, endpoint: front.url, retries: 2, backoffMs: 100, backoffMaxMs: 1000, timeoutMs: 10_000, ...over }, fastSleep);

async function rawServer(id: string): Promise<{ host: string; status: string }> {
  const r = await nova.call('GET', `/servers/${id}`);
  return { host: r.body.server['OS-EXT-SRV-ATTR:host'], status: r.body.server.status };
}

let tiny1: string; // m1.tiny (1 vCPU, 512 MB) on host1
let medium2: string; // m1.medium (2 vCPU, 4096 MB) on host2: 5632 - 4096 = 1536 MB left there

beforeAll(async () => {
  // no test here stops a nova-compute: Nova's own service_down_time (60 s), so that a heartbeat
  // late under load (nova-box's default is 6 s) does not show a running host `down`
  nova = await startNovaBox({ computes: 3, vcpus: 4, memoryMb: 6144, serviceDownTime: 60, args: ['--conf', 'api.max_limit=1'] });
  front = await startHttpFront(nova.endpoint);
  [tiny1, medium2] = await Promise.all([nova.boot('tiny1', 'm1.tiny', 'host1'), nova.boot('medium2', 'm1.medium', 'host2')]);
});

afterAll(async () => {
  await front?.stop();
  await nova?.stop();
});

beforeEach(() => {
  front.reset();
  slept = [];
});

describe('Nova client: settings', () => {
  it.each([
    { name: 'noauth without endpoint', options: { auth: { type: 'noauth' } }, key: /endpoint/ },
    { name: 'password without a project', options: { auth: { type: 'password', authUrl: 'http://k:5000', username: 'u', passwordFile: '/p' } }, key: /projectName/ },
    { name: 'an unknown auth type', options: { auth: { type: 'token' } }, key: /auth/ },
    { name: 'a timeout below 100 ms', options: { auth: { type: 'noauth' }, endpoint: 'http://n/v2.1', timeoutMs: 5 }, key: /timeoutMs/ },
    { name: 'an unknown key', options: { auth: { type: 'noauth' }, endpoint: 'http://n/v2.1', retry: 1 }, key: /retry/ },
  ])('bad settings are an error at construction naming the key: $name', ({ options, key }) => {
    expect(() => new NovaClient(options as never)).toThrow(key);
  });
});

describe('Nova client: servers', () => {
  it('lists every server with host, flavor vCPUs/RAM, status and task state, at microversion 2.60', async () => {
    const r = await client().listServers();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const byName = Object.fromEntries(r.value.map((s) => [s.name, s]));
    expect(byName.tiny1).toEqual<CloudServer>({ id: tiny1, name: 'tiny1', host: 'host1', status: 'ACTIVE', taskState: null, vcpus: 1, ramMb: 512 });
    expect(byName.medium2).toEqual<CloudServer>({ id: medium2, name: 'medium2', host: 'host2', status: 'ACTIVE', taskState: null, vcpus: 2, ramMb: 4096 });
    const req = front.seen[0];
    expect(req.path).toContain('all_tenants=1');
    expect(req.headers['openstack-api-version']).toBe(`compute ${READ_MICROVERSION}`);
  });

  it.each([
    { host: 'host1', names: ['tiny1'] },
    { host: 'host2', names: ['medium2'] },
    { host: 'host3', names: [] },
  ])('lists by host: $host has $names', async ({ host, names }) => {
    const r = await client().listServers(host);
    expect(r.ok && r.value.map((s) => s.name).sort()).toEqual(names);
  });

  it('follows Nova\'s pages (servers_links rel next, marker) to the end: [api] max_limit = 1 here', async () => {
    // 2 servers, pages of 1: [s], [s], [] = 3 requests, the 2nd and 3rd with the marker of the one before.
    const all = await client().listServers();
    expect(all.ok && all.value.map((s) => s.name).sort()).toEqual(['medium2', 'tiny1']);
    const gets = front.seen.filter((s) => s.path.startsWith('/servers/detail'));
    expect(gets.length).toBe(3);
    expect(gets[1].path).toMatch(/marker=[0-9a-f-]{36}/);
  });

  it('gets one server; an unknown id is null (404), not a failure', async () => {
    const c = client();
    const s = await c.getServer(tiny1);
    expect(s.ok && s.value?.host).toBe('host1');
    expect(await c.getServer('00000000-0000-0000-0000-000000000000')).toEqual({ ok: true, value: null });
    expect(front.count('GET', '/servers/00000000')).toBe(1);
  });
});

describe('Nova client: compute services', () => {
  it('lists the nova-compute services, up and enabled, with UUID ids; by host only that host', async () => {
    const c = client();
    const all = await c.computeServices();
    expect(all.ok && all.value.map((s) => [s.host, s.state, s.status]).sort()).toEqual([
      ['host1', 'up', 'enabled'],
      ['host2', 'up', 'enabled'],
      ['host3', 'up', 'enabled'],
    ]);
    const one = await c.computeServices('host3');
    expect(one.ok && one.value.length).toBe(1);
    expect(one.ok && one.value[0].id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('disables with a reason and enables again, as Nova reads it back', async () => {
    const c = client();
    const svc = await c.computeServices('host3');
    if (!svc.ok) throw new Error(svc.reason);
    const id = svc.value[0].id;
    expect(await c.setServiceStatus(id, false, 'wattplace: draining for standby')).toEqual({ ok: true, value: undefined });
    const raw = await nova.call('GET', '/os-services?binary=nova-compute&host=host3', undefined, '2.53');
    expect([raw.body.services[0].status, raw.body.services[0].disabled_reason]).toEqual(['disabled', 'wattplace: draining for standby']);
    const back = await c.computeServices('host3');
    expect(back.ok && back.value[0]).toMatchObject({ status: 'disabled', disabledReason: 'wattplace: draining for standby' });

    expect(await c.setServiceStatus(id, true)).toEqual({ ok: true, value: undefined });
    const after = await c.computeServices('host3');
    expect(after.ok && after.value[0]).toMatchObject({ status: 'enabled', disabledReason: null });
    expect(JSON.parse(front.seen.filter((s) => s.method === 'PUT')[1].body)).toEqual({ status: 'enabled' });
  });

  it.each([
    { name: 'an unknown service id: Nova says 404', id: '00000000-0000-0000-0000-000000000000', reason: 'x', status: 404, puts: 1 },
    { name: 'a reason longer than Nova stores (255): refused before any call', id: 'any', reason: 'r'.repeat(256), status: undefined, puts: 0 },
  ])('$name', async ({ id, reason, status, puts }) => {
    const r = await client().setServiceStatus(id, false, reason);
    expect(r).toMatchObject({ ok: false, refused: true, status });
    expect(front.count('PUT')).toBe(puts);
  });
});

describe('Nova client: live migration', () => {
  it('migrates a server to the named host (os-migrateLive, block_migration auto, 2.30); it ends ACTIVE there', async () => {
    const c = client();
    expect(await c.liveMigrate(tiny1, 'host3')).toEqual({ ok: true, value: undefined });
    const post = front.seen.find((s) => s.method === 'POST')!;
    expect(JSON.parse(post.body)).toEqual({ 'os-migrateLive': { host: 'host3', block_migration: 'auto' } });
    expect(post.headers['openstack-api-version']).toBe(`compute ${LIVE_MIGRATE_MICROVERSION}`);

    const s = await until('tiny1 on host3', () => c.getServer(tiny1), (r) => r.ok && r.value?.host === 'host3' && r.value.status === 'ACTIVE' && r.value.taskState === null);
    expect(s.ok).toBe(true);
    expect(await rawServer(tiny1)).toEqual({ host: 'host3', status: 'ACTIVE' });
    const m = await c.migrations(tiny1);
    expect(m.ok && m.value[0]).toMatchObject({ serverId: tiny1, status: 'completed', sourceHost: 'host1', destHost: 'host3' });
  });

  it.each([
    // medium2 (4096 MB) to host1: room there (5632 MB free), but its service is disabled first.
    { name: 'to a disabled host', server: () => medium2, target: 'host1', disable: 'host1', message: /No valid host was found/ },
    { name: 'to a host that does not exist', server: () => tiny1, target: 'host9', disable: null, message: /Compute host host9 could not be found/ },
  ])('a refused migration $name is a failure value with Nova\'s message, tried once', async ({ server, target, disable, message }) => {
    const c = client();
    let serviceId: string | null = null;
    if (disable) {
      const svc = await c.computeServices(disable);
      if (!svc.ok) throw new Error(svc.reason);
      serviceId = svc.value[0].id;
      expect((await c.setServiceStatus(serviceId, false, 'test: closed')).ok).toBe(true);
    }
    try {
      const id = server();
      const before = await rawServer(id);
      const r = await c.liveMigrate(id, target);
      expect(r).toMatchObject({ ok: false, refused: true, status: 400 });
      expect(!r.ok && r.reason).toMatch(message);
      expect(front.count('POST', '/action')).toBe(1);
      expect(slept).toEqual([]);
      expect(await rawServer(id)).toEqual(before);
    } finally {
      if (serviceId) await c.setServiceStatus(serviceId, true);
    }
  });

  it('a migration to a host without room is refused: medium2 (4096 MB) to host3 once host3 holds an m1.medium', async () => {
    // host3: 5632 MB schedulable - 512 (tiny1) - 4096 (filler) = 1024 MB free < 4096.
    const filler = await nova.boot('filler3', 'm1.medium', 'host3');
    try {
      const r = await client().liveMigrate(medium2, 'host3');
      expect(r).toMatchObject({ ok: false, refused: true, status: 400 });
      expect(!r.ok && r.reason).toMatch(/No valid host was found/);
      expect(await rawServer(medium2)).toEqual({ host: 'host2', status: 'ACTIVE' });
      // Nova recorded both refused attempts of medium2 (disabled host1, then this one), read across pages of one.
      const m = await client().migrations(medium2);
      expect(m.ok && m.value.map((x) => [x.status, x.sourceHost])).toEqual([['error', 'host2'], ['error', 'host2']]);
      expect(m.ok && m.value[0].id > m.value[1].id).toBe(true);
    } finally {
      await nova.call('DELETE', `/servers/${filler}`);
    }
  });
});

describe('Nova client: one migration per server', () => {
  it('two migrations of one server asked at once: Nova accepts one; the other fails (409, or 500 from its race) and is not repeated', async () => {
    const c = client();
    const from = (await rawServer(tiny1)).host;
    const to = from === 'host3' ? 'host1' : 'host3';
    const [a, b] = await Promise.all([c.liveMigrate(tiny1, to), c.liveMigrate(tiny1, 'host2')]);
    expect([a, b].filter((r) => r.ok).length).toBe(1);
    const lost = [a, b].find((r) => !r.ok)!;
    expect(lost.ok || [409, 500].includes(lost.status ?? 0)).toBe(true);
    expect(front.count('POST', '/action')).toBe(2);
    const winner = a.ok ? to : 'host2';
    await until(`tiny1 on ${winner}`, () => rawServer(tiny1), (s) => s.host === winner && s.status === 'ACTIVE');
  });

  it('a migration asked while the server is still migrating is refused (409) with Nova\'s message', async () => {
    const c = client();
    const to = (await rawServer(tiny1)).host === 'host3' ? 'host1' : 'host3';
    expect((await c.liveMigrate(tiny1, to)).ok).toBe(true);
    const s = await c.getServer(tiny1);
    // The fake driver takes about half a second per migration: still in flight.
    expect(s.ok && s.value?.taskState).toBe('migrating');
    const r = await c.liveMigrate(tiny1, 'host2');
    expect(r).toMatchObject({ ok: false, refused: true, status: 409 });
    expect(!r.ok && r.reason).toMatch(/task_state migrating/);
    await until(`tiny1 on ${to}`, () => rawServer(tiny1), (x) => x.host === to && x.status === 'ACTIVE');
  });
});

describe('Nova client: retries', () => {
  it('a 5xx on a read is retried with growing back-off and then succeeds (2 injected 503s = 3 requests)', async () => {
    front.inject((s) => (s.method === 'GET' ? { status: 503, body: { message: 'busy' } } : null), 2);
    const r = await client().computeServices('host1');
    expect(r.ok && r.value[0].host).toBe('host1');
    expect(front.count('GET', '/os-services')).toBe(3);
    // back-off 100 then 200 ms, each with jitter down to half.
    expect(slept.length).toBe(2);
    expect(slept[0]).toBeGreaterThanOrEqual(50);
    expect(slept[0]).toBeLessThanOrEqual(100);
    expect(slept[1]).toBeGreaterThanOrEqual(100);
    expect(slept[1]).toBeLessThanOrEqual(200);
  });

  it('a 5xx that does not go away is a failure with the status after 1 + retries attempts', async () => {
    front.inject((s) => (s.method === 'GET' ? { status: 500, body: { computeFault: { code: 500, message: 'boom' } } } : null));
    const r = await client().listServers();
    expect(r).toMatchObject({ ok: false, refused: false, status: 500 });
    expect(!r.ok && r.reason).toMatch(/Nova GET \/servers\/detail: 500 boom/);
    expect(front.count('GET')).toBe(3);
  });

  it('a 4xx is not retried', async () => {
    front.inject((s) => (s.method === 'GET' ? { status: 403, body: { forbidden: { code: 403, message: 'Policy does not allow' } } } : null));
    const r = await client().listServers();
    expect(r).toMatchObject({ ok: false, refused: true, status: 403 });
    expect(!r.ok && r.reason).toContain('Policy does not allow');
    expect(front.count('GET')).toBe(1);
    expect(slept).toEqual([]);
  });

  it('a live migration answered 500 is not repeated (it may have started); 503 is (it was not processed)', async () => {
    front.inject((s) => (s.method === 'POST' ? { status: 500, body: { computeFault: { code: 500, message: 'Unexpected API Error.' } } } : null), 1);
    const r = await client().liveMigrate(medium2, 'host1');
    expect(r).toMatchObject({ ok: false, refused: false, status: 500 });
    expect(front.count('POST')).toBe(1);

    front.reset();
    front.inject((s) => (s.method === 'POST' ? { status: 503 } : null), 1);
    expect(await client().liveMigrate(medium2, 'host1')).toEqual({ ok: true, value: undefined });
    expect(front.count('POST')).toBe(2);
    await until('medium2 on host1', () => rawServer(medium2), (s) => s.host === 'host1' && s.status === 'ACTIVE');
  });

  it('an answer larger than 32 MiB is a failure at once, not read further and not retried', async () => {
    front.inject(() => ({ status: 200, body: { services: [], pad: 'x'.repeat(MAX_BODY_BYTES) } }), 1);
    const r = await client().computeServices();
    expect(r).toMatchObject({ ok: false, refused: false });
    expect(!r.ok && r.reason).toMatch(/answer larger than 33554432 bytes/);
    expect(front.count('GET')).toBe(1);
  });

  it('an answer of the wrong shape is a failure naming where (a listing is never taken in part)', async () => {
    front.inject(() => ({ status: 200, body: { servers: [{ id: 'a', name: 'a', status: 'ACTIVE', flavor: { vcpus: 'two', ram: 1 } }] } }), 1);
    const r = await client().listServers();
    expect(r).toMatchObject({ ok: false, refused: false, status: 200 });
    expect(!r.ok && r.reason).toMatch(/Nova GET \/servers\/detail: unexpected answer \(servers\.0\.flavor\.vcpus: /);
  });

  it('connection refused is retried, then a failure value (no throw)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await client({ endpoint: `http://127.0.0.1:${port}/v2.1` }).listServers();
    expect(r).toMatchObject({ ok: false, refused: false });
    expect(!r.ok && r.reason).toMatch(/ECONNREFUSED/);
    expect(!r.ok && r.status).toBeUndefined();
    expect(slept.length).toBe(2);
  });

  it('a call that gets no answer within the timeout is a failure naming the timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const r = await client({ endpoint: `http://127.0.0.1:${port}/v2.1`, timeoutMs: 200, retries: 1 }).computeServices();
      expect(r).toMatchObject({ ok: false, refused: false });
      expect(!r.ok && r.reason).toMatch(/timeout, no answer within 200 ms/);
    } finally {
      silent.close();
    }
  });
});

/**
 * Keystone v3 in front of the same Nova (test/fixtures/keystone.ts): its
 * catalog's public compute endpoint is the front, and the front accepts only
 * the tokens this Keystone issued and has not revoked (401 otherwise), as
 * keystonemiddleware does in Nova's API pipeline.
 */
describe('Nova client with Keystone v3', () => {
  let ks: Keystone & { readonly secretDir: string };
  let secretDir: string;
  const PASSWORD = KEYSTONE_PASSWORD;
  const SECRET = KEYSTONE_SECRET;

  beforeAll(async () => {
    ks = await startCredentialKeystone(
      () => [
        {
          type: 'compute',
          endpoints: [
            { interface: 'internal', region_id: 'RegionOne', region: 'RegionOne', url: 'http://127.0.0.1:9/v2.1' },
            { interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: front.url },
          ],
        },
      ],
    );
    secretDir = ks.secretDir;
  });
  afterAll(async () => {
    await ks?.stop();
  });
  beforeEach(() => {
    ks.requests.length = 0;
    ks.lifetimeMs = 3_600_000;
    front.route((s) =>
      ks.valid.has(String(s.headers['x-auth-token'])) ? null : { status: 401, body: { error: { code: 401, message: 'Authentication required' } } },
    );
  });

  const passwordClient = (over: Record<string, unknown> = {}): NovaClient =>
    new NovaClient(
      {
        auth: { type: 'password', authUrl: `${ks.url}/v3`, username: 'wattplace', passwordFile: path.join(secretDir, 'password'), projectName: 'service' },
        retries: 1,
        backoffMs: 10,
        ...over,
      },
      fastSleep,
    );

  it('password: one token for many calls, the compute endpoint from the catalog (interface public)', async () => {
    const c = passwordClient();
    for (let i = 0; i < 3; i++) expect((await c.computeServices('host1')).ok).toBe(true);
    expect(ks.requests).toEqual([
      {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'wattplace', domain: { name: 'Default' }, password: PASSWORD } } },
          scope: { project: { name: 'service', domain: { name: 'Default' } } },
        },
      },
    ]);
    expect(front.seen.map((s) => s.headers['x-auth-token'])).toEqual([...Array(3)].map(() => [...ks.valid].at(-1)));
  });

  it('a token Nova answers 401 to (revoked) is renewed and the call repeated once', async () => {
    const c = passwordClient();
    expect((await c.computeServices('host1')).ok).toBe(true);
    const first = [...ks.valid].at(-1)!;
    ks.valid.delete(first);
    const r = await c.computeServices('host2');
    expect(r.ok && r.value[0].host).toBe('host2');
    expect(ks.requests.length).toBe(2);
    // 1 good call with the first token, 1 refused with it, 1 with the new one.
    expect(front.seen.map((s) => s.headers['x-auth-token'] === first)).toEqual([true, true, false]);
  });

  it('a token within the renewal margin of its expiry is renewed before use, no 401 needed', async () => {
    ks.lifetimeMs = 60_300; // the default margin is 60 s: valid for 0.3 s of use
    const c = passwordClient();
    expect((await c.computeServices('host1')).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect((await c.computeServices('host1')).ok).toBe(true);
    expect(ks.requests.length).toBe(2);
    expect(front.seen.every((s) => ks.valid.has(String(s.headers['x-auth-token'])))).toBe(true);
  });

  it('a 401 that persists after renewal is a refusal (status 401): one renewal, not a loop', async () => {
    front.route(() => ({ status: 401, body: { error: { code: 401, message: 'Authentication required' } } }));
    const r = await passwordClient().listServers();
    expect(r).toMatchObject({ ok: false, refused: true, status: 401 });
    expect(ks.requests.length).toBe(2);
    expect(front.seen.length).toBe(2);
  });

  it('application credential: id and secret from its file, no scope', async () => {
    const c = new NovaClient(
      { auth: { type: 'applicationCredential', authUrl: ks.url, applicationCredentialId: 'ac-123', secretFile: path.join(secretDir, 'secret') } },
      fastSleep,
    );
    expect((await c.getServer(medium2)).ok).toBe(true);
    expect(ks.requests).toEqual([{ auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac-123', secret: SECRET } } } }]);
  });

  it.each([
    {
      name: 'a wrong password: Keystone refuses, no Nova call, the secret in no reason',
      over: { auth: { type: 'password', authUrl: 'KS', username: 'wattplace', passwordFile: 'wrong', projectName: 'service' } },
      reason: /Keystone refused the credentials of user wattplace: 401/,
    },
    {
      name: 'a wrong application credential secret',
      over: { auth: { type: 'applicationCredential', authUrl: 'KS', applicationCredentialId: 'ac-123', secretFile: 'wrong' } },
      reason: /Keystone refused the credentials of application credential ac-123: 401/,
    },
    {
      name: 'an unreadable secret file',
      over: { auth: { type: 'applicationCredential', authUrl: 'KS', applicationCredentialId: 'ac-123', secretFile: 'missing' } },
      reason: /credential file .*missing is not readable/,
    },
    {
      name: 'no compute endpoint for the region in the catalog',
      over: { region: 'RegionTwo' },
      reason: /no compute endpoint with interface public in region RegionTwo/,
    },
  ])('$name', async ({ over, reason }) => {
    const o = structuredClone(over) as Record<string, any>;
    if (o.auth) {
      o.auth.authUrl = ks.url;
      for (const k of ['passwordFile', 'secretFile'] as const) if (o.auth[k]) o.auth[k] = path.join(secretDir, o.auth[k]);
    }
    const r = await passwordClient(o).listServers();
    expect(r).toMatchObject({ ok: false, refused: true });
    expect(!r.ok && r.reason).toMatch(reason);
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(front.seen.length).toBe(0);
  });

  it('a configured endpoint wins over the catalog', async () => {
    const r = await passwordClient({ endpoint: front.url, interface: 'internal' }).computeServices('host3');
    expect(r.ok).toBe(true);
    expect(front.seen.length).toBe(1);
  });
});
