import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpFront, type HttpFront } from '../../../../test/fixtures/http-front';
import { startIronic, type IronicBox } from '../../../../test/fixtures/ironic';
import { KEYSTONE_PASSWORD, KEYSTONE_SECRET, startCredentialKeystone, type Keystone } from '../../../../test/fixtures/keystone';
import { IRONIC_API_VERSION, IronicPowerDriver, LAST_ERROR_PREFIX } from './ironic';

/**
 * The Ironic power driver against Ironic's real API and conductor
 * (test/fixtures/ironic.ts: python3-ironic 21, noauth, fake-hardware nodes
 * with the fake power interface). Every power state the driver reports or
 * sets is also read back from Ironic with a raw call of the fixture. States
 * the fake hardware never reaches by itself (a lock held by another
 * conductor, a change in progress, a failed power sync) are written into
 * Ironic's database; Ironic itself answers for them (409, the states). A
 * small front between driver and Ironic counts the requests and, for the
 * retry and auth cases, answers some itself.
 */
let ironic: IronicBox;
let front: HttpFront;
/** Sleeps the driver's back-off asked for (ms), instead of sleeping; `onSleep` runs at each. */
let slept: number[];
let onSleep: ((n: number) => Promise<void>) | null;
const fastSleep = async (ms: number): Promise<void> => {
  slept.push(ms);
  await onSleep?.(slept.length);
};

const uuids: Record<string, string> = {};
/** Host → node: by name, except host3 by UUID. */
const hosts = (): Record<string, { nodeId: string }> => ({
  host1: { nodeId: 'node-1' },
  host2: { nodeId: 'node-2' },
  host3: { nodeId: uuids['node-3'] },
  locked: { nodeId: 'node-locked' },
  busy: { nodeId: 'node-busy' },
  broken: { nodeId: 'node-broken' },
  fresh: { nodeId: 'node-fresh' },
  cleaning: { nodeId: 'node-cleaning' },
  ghost: { nodeId: 'no-such-node' },
});

const driver = (over: Record<string, unknown> = {}): IronicPowerDriver =>
  new IronicPowerDriver(hosts(), { auth: { type: 'noauth' }, endpoint: front.url, retries: 2, backoffMs: 100, backoffMaxMs: 1000, timeoutMs: 10_000, ...over }, fastSleep);

beforeAll(async () => {
  ironic = await startIronic();
  front = await startHttpFront(ironic.endpoint);
  const nodes: [string, 'on' | 'off' | undefined][] = [
    ['node-1', 'on'],
    ['node-2', 'off'],
    ['node-3', 'on'],
    ['node-locked', 'off'],
    ['node-busy', 'off'],
    ['node-broken', 'on'],
    ['node-fresh', undefined],
    ['node-cleaning', 'off'],
  ];
  const ids = await Promise.all(nodes.map(([name, power]) => ironic.enroll(name, power)));
  nodes.forEach(([name], i) => (uuids[name] = ids[i]));
});

afterAll(async () => {
  await front?.stop();
  await ironic?.stop();
});

beforeEach(() => {
  front.reset();
  slept = [];
  onSleep = null;
});

describe('Ironic power driver: settings', () => {
  it.each([
    { name: 'noauth without endpoint', hosts: {}, options: { auth: { type: 'noauth' } }, key: /endpoint/ },
    { name: 'an unknown auth type', hosts: {}, options: { auth: { type: 'token' } }, key: /auth/ },
    { name: 'a timeout below 100 ms', hosts: {}, options: { auth: { type: 'noauth' }, endpoint: 'http://i:6385', timeoutMs: 5 }, key: /timeoutMs/ },
    { name: 'an unknown key', hosts: {}, options: { auth: { type: 'noauth' }, endpoint: 'http://i:6385', conflictRetry: 1 }, key: /conflictRetry/ },
    { name: 'a host without nodeId', hosts: { h: {} }, options: { auth: { type: 'noauth' }, endpoint: 'http://i:6385' }, key: /nodeId/ },
  ])('bad settings are an error at construction naming the key: $name', ({ hosts: h, options, key }) => {
    expect(() => new IronicPowerDriver(h as never, options as never)).toThrow(key);
  });
});

describe('Ironic power driver against Ironic', () => {
  it.each([
    { host: 'host1', want: 'on', how: 'node by name' },
    { host: 'host2', want: 'off', how: 'node by name' },
    { host: 'host3', want: 'on', how: 'node by UUID' },
  ] as const)('status of $host ($how) is $want, read with GET /v1/nodes/{node}/states at API 1.27', async ({ host, want }) => {
    expect(await driver().status(host)).toEqual({ ok: true, value: want });
    expect(front.seen.map((s) => [s.method, s.path])).toEqual([['GET', `/v1/nodes/${hosts()[host].nodeId}/states`]]);
    expect(front.seen[0].headers['x-openstack-ironic-api-version']).toBe(IRONIC_API_VERSION);
    expect(front.seen[0].headers['x-auth-token']).toBeUndefined();
  });

  it.each([
    { name: 'off, then status reports off', verb: 'off', want: 'off' },
    { name: 'off again is accepted and stays off', verb: 'off', want: 'off' },
    { name: 'on, then status reports on', verb: 'on', want: 'on' },
    { name: 'on again is accepted and stays on', verb: 'on', want: 'on' },
  ] as const)('power $name (host1, Ironic agrees)', async ({ verb, want }) => {
    const d = driver();
    expect(await d[verb]('host1')).toEqual({ ok: true, value: undefined });
    const put = front.seen.find((s) => s.method === 'PUT');
    expect(put?.path).toBe('/v1/nodes/node-1/states/power');
    expect(JSON.parse(put!.body)).toEqual({ target: `power ${want}` });
    // 202 = accepted: poll as the applier does.
    const end = Date.now() + 10_000;
    let s = await d.status('host1');
    while (!(s.ok && s.value === want) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      s = await d.status('host1');
    }
    expect(s).toEqual({ ok: true, value: want });
    expect(await ironic.powerState('node-1')).toBe(`power ${want}`);
  });

  it('while a change is in progress (target_power_state set) status reports the current power_state', async () => {
    await ironic.setNode('node-busy', { target_power_state: 'power on' });
    try {
      expect(await driver().status('busy')).toEqual({ ok: true, value: 'off' });
      const raw = await ironic.call('GET', '/v1/nodes/node-busy/states');
      expect([raw.body.power_state, raw.body.target_power_state]).toEqual(['power off', 'power on']);
    } finally {
      await ironic.setNode('node-busy', { target_power_state: null });
    }
  });

  const LAST_ERROR = `Failed to get power state for node node-broken after 3 tries: BMC answered ${'x'.repeat(200)} END-OF-ERROR`;
  it.each([
    { name: 'power_state error: the reason carries a short prefix of last_error', host: 'broken', reason: /^Ironic node node-broken of host broken: power state error: Failed to get power state/ },
    { name: 'power_state null (Ironic never read it)', host: 'fresh', reason: /^Ironic node node-fresh of host fresh: power state unknown to Ironic \(null\)$/ },
  ])('$name is a failure, not a refusal', async ({ host, reason }) => {
    await ironic.setNode('node-broken', { power_state: 'error', last_error: LAST_ERROR });
    const r = await driver().status(host);
    expect(r).toMatchObject({ ok: false, refused: false });
    expect(!r.ok && r.reason).toMatch(reason);
    expect(!r.ok && r.reason).not.toContain('END-OF-ERROR');
    expect(!r.ok && r.reason.length).toBeLessThan(80 + LAST_ERROR_PREFIX);
  });

  it('409 (node locked by another conductor) is retried with back-off until the lock is gone, then accepted', async () => {
    await ironic.setNode('node-locked', { reservation: 'other-conductor' });
    onSleep = async (n) => {
      if (n === 2) await ironic.setNode('node-locked', { reservation: null });
    };
    const r = await driver().on('locked');
    expect(r).toEqual({ ok: true, value: undefined });
    expect(front.count('PUT', '/v1/nodes/node-locked/states/power')).toBe(3);
    // Back-off grows: 100 ms then 200 ms, each with jitter down to half.
    expect(slept.length).toBe(2);
    expect(slept[0]).toBeGreaterThanOrEqual(50);
    expect(slept[0]).toBeLessThanOrEqual(100);
    expect(slept[1]).toBeGreaterThanOrEqual(100);
    expect(slept[1]).toBeLessThanOrEqual(200);
    const end = Date.now() + 10_000;
    while ((await ironic.powerState('node-locked')) !== 'power on' && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    expect(await ironic.powerState('node-locked')).toBe('power on');
  });

  it('409 that outlasts conflictRetries is a failure with status 409 and Ironic\'s message, not a refusal', async () => {
    await ironic.setNode('node-locked', { reservation: 'other-conductor' });
    try {
      const r = await driver({ conflictRetries: 2 }).off('locked');
      expect(r).toMatchObject({ ok: false, refused: false, status: 409 });
      expect(!r.ok && r.reason).toMatch(/^Ironic node node-locked of host locked: .*409 after 3 tries .*locked by host other-conductor/);
      expect(front.count('PUT')).toBe(3);
      expect(await ironic.powerState('node-locked')).toBe('power on');
    } finally {
      await ironic.setNode('node-locked', { reservation: null });
    }
  });

  it.each([
    { name: 'status', call: (d: IronicPowerDriver) => d.status('ghost') },
    { name: 'on', call: (d: IronicPowerDriver) => d.on('ghost') },
    { name: 'off', call: (d: IronicPowerDriver) => d.off('ghost') },
  ])('an unknown node (404) is a refusal naming host and node, tried once: $name', async ({ call }) => {
    const r = await call(driver());
    expect(r).toMatchObject({ ok: false, refused: true, status: 404 });
    expect(!r.ok && r.reason).toMatch(/^Ironic node no-such-node of host ghost: not found \(404\) Node no-such-node could not be found\.$/);
    expect(front.seen.length).toBe(1);
  });

  it('a power action Ironic refuses in the node\'s provision state (400) is a refusal with Ironic\'s message, tried once', async () => {
    await ironic.setNode('node-cleaning', { provision_state: 'clean wait' });
    const r = await driver().on('cleaning');
    expect(r).toMatchObject({ ok: false, refused: true, status: 400 });
    expect(!r.ok && r.reason).toMatch(/^Ironic node node-cleaning of host cleaning: PUT .*: 400 .*can not be performed on node .*clean wait/);
    expect(front.count('PUT')).toBe(1);
    expect(await ironic.powerState('node-cleaning')).toBe('power off');
  });

  it('a host without settings is a refusal, no call', async () => {
    expect(await driver().status('host9')).toEqual({ ok: false, reason: 'no Ironic settings for host host9', refused: true, status: undefined });
    expect(front.seen.length).toBe(0);
  });

  it('a 503 is retried with back-off, then the answer is read', async () => {
    front.inject(() => ({ status: 503, body: { error_message: '{"faultcode": "Server", "faultstring": "No conductor service registered", "debuginfo": null}' } }), 2);
    expect(await driver().status('host2')).toEqual({ ok: true, value: 'off' });
    expect(front.count('GET')).toBe(3);
    expect(slept.length).toBe(2);
  });

  it('5xx on every try is a failure with Ironic\'s message after retries + 1 tries', async () => {
    front.inject(() => ({ status: 503, body: { error_message: '{"faultcode": "Server", "faultstring": "No conductor service registered", "debuginfo": null}' } }));
    const r = await driver({ retries: 1 }).on('host2');
    expect(r).toMatchObject({ ok: false, refused: false, status: 503 });
    expect(!r.ok && r.reason).toMatch(/^Ironic node node-2 of host host2: Ironic PUT .*: 503 No conductor service registered$/);
    expect(front.count('PUT')).toBe(2);
  });

  it('an endpoint given with /v1 is used as is', async () => {
    expect(await driver({ endpoint: `${front.url}/v1/` }).status('host2')).toEqual({ ok: true, value: 'off' });
    expect(front.seen[0].path).toBe('/v1/nodes/node-2/states');
  });
});

describe('Ironic power driver: Ironic unreachable', () => {
  let closedPort: number;
  let silent: net.Server;
  let silentPort: number;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    closedPort = await new Promise<number>((r) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    // Accepts connections and never answers: an API that hangs.
    silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentPort = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it.each([
    { name: 'connection refused', port: () => closedPort, reason: /connection failed \(ECONNREFUSED\)/, withinMs: 2_000 },
    { name: 'no answer', port: () => silentPort, reason: /timeout, no answer within 300 ms/, withinMs: 300 * 2 + 1_500 },
  ])('$name: a failure (not a refusal) after retries, within the timeout', async ({ port, reason, withinMs }) => {
    const t0 = Date.now();
    const d = new IronicPowerDriver(hosts(), { auth: { type: 'noauth' }, endpoint: `http://127.0.0.1:${port()}`, retries: 1, timeoutMs: 300, backoffMs: 10 }, fastSleep);
    const r = await d.off('host1');
    expect(Date.now() - t0).toBeLessThan(withinMs);
    expect(r).toMatchObject({ ok: false, refused: false });
    expect(!r.ok && r.reason).toMatch(/^Ironic node node-1 of host host1: Ironic PUT /);
    expect(!r.ok && r.reason).toMatch(reason);
    expect(slept.length).toBe(1);
  });
});

/**
 * Keystone v3 (test/fixtures/keystone.ts) in front of the same Ironic: its
 * catalog's public baremetal endpoint is the front (Ironic's root, no /v1),
 * and the front accepts only the tokens this Keystone issued and has not
 * revoked (401 otherwise), as keystonemiddleware does in Ironic's API pipeline.
 */
describe('Ironic power driver with Keystone v3', () => {
  let ks: Keystone & { readonly secretDir: string };
  let secretDir: string;
  const PASSWORD = KEYSTONE_PASSWORD;
  const SECRET = KEYSTONE_SECRET;

  beforeAll(async () => {
    ks = await startCredentialKeystone(
      () => [
        { type: 'compute', endpoints: [{ interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: 'http://127.0.0.1:9/v2.1' }] },
        {
          type: 'baremetal',
          endpoints: [
            { interface: 'internal', region_id: 'RegionOne', region: 'RegionOne', url: 'http://127.0.0.1:9' },
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
    front.route((s) =>
      ks.valid.has(String(s.headers['x-auth-token']))
        ? null
        : { status: 401, body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } } },
    );
  });

  const passwordDriver = (over: Record<string, unknown> = {}): IronicPowerDriver =>
    new IronicPowerDriver(
      hosts(),
      {
        auth: { type: 'password', authUrl: `${ks.url}/v3`, username: 'wattplace', passwordFile: path.join(secretDir, 'password'), projectName: 'service' },
        retries: 1,
        backoffMs: 10,
        ...over,
      },
      fastSleep,
    );

  it('password: one token for many calls, the baremetal endpoint from the catalog (interface public), /v1 appended', async () => {
    const d = passwordDriver();
    expect(await d.status('host2')).toEqual({ ok: true, value: 'off' });
    expect(await d.status('host3')).toEqual({ ok: true, value: 'on' });
    expect(await d.off('host2')).toEqual({ ok: true, value: undefined });
    expect(ks.requests).toEqual([
      {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'wattplace', domain: { name: 'Default' }, password: PASSWORD } } },
          scope: { project: { name: 'service', domain: { name: 'Default' } } },
        },
      },
    ]);
    expect(front.seen.map((s) => s.path)).toEqual(['/v1/nodes/node-2/states', `/v1/nodes/${uuids['node-3']}/states`, '/v1/nodes/node-2/states/power']);
    expect(front.seen.map((s) => s.headers['x-auth-token'])).toEqual([...Array(3)].map(() => [...ks.valid].at(-1)));
  });

  it('a revoked token (401) is renewed and the call repeated once', async () => {
    const d = passwordDriver();
    expect((await d.status('host2')).ok).toBe(true);
    const first = [...ks.valid].at(-1)!;
    ks.valid.delete(first);
    expect(await d.status('host2')).toEqual({ ok: true, value: 'off' });
    expect(ks.requests.length).toBe(2);
    expect(front.seen.map((s) => s.headers['x-auth-token'])).toEqual([first, first, [...ks.valid].at(-1)]);
  });

  it('application credential: no scope in the request, the token used for the power call', async () => {
    const d = new IronicPowerDriver(
      hosts(),
      { auth: { type: 'applicationCredential', authUrl: ks.url, applicationCredentialId: 'ac-123', secretFile: path.join(secretDir, 'secret') } },
      fastSleep,
    );
    expect(await d.on('host2')).toEqual({ ok: true, value: undefined });
    expect(ks.requests).toEqual([{ auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac-123', secret: SECRET } } } }]);
    expect(front.count('PUT', '/v1/nodes/node-2/states/power')).toBe(1);
  });

  it('an unknown node with a Keystone token: the refusal names host and node, never the token', async () => {
    const r = await passwordDriver().on('ghost');
    expect(r).toMatchObject({ ok: false, refused: true, status: 404 });
    expect(!r.ok && r.reason).toMatch(/host ghost/);
    for (const t of ks.valid) expect(JSON.stringify(r)).not.toContain(t);
  });

  it.each([
    {
      name: 'a wrong password: Keystone refuses, no Ironic call, the secret in no reason',
      over: { auth: { type: 'password', authUrl: 'KS', username: 'wattplace', passwordFile: 'wrong', projectName: 'service' } },
      reason: /^Ironic node node-1 of host host1: Keystone refused the credentials of user wattplace: 401/,
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
      name: 'no baremetal endpoint for the region in the catalog',
      over: { region: 'RegionTwo' },
      reason: /no baremetal endpoint with interface public in region RegionTwo; set endpoint/,
    },
  ])('$name', async ({ over, reason }) => {
    const o = structuredClone(over) as Record<string, any>;
    if (o.auth) {
      o.auth.authUrl = ks.url;
      for (const k of ['passwordFile', 'secretFile'] as const) if (o.auth[k]) o.auth[k] = path.join(secretDir, o.auth[k]);
    }
    const r = await passwordDriver(o).status('host1');
    expect(r).toMatchObject({ ok: false, refused: true });
    expect(!r.ok && r.reason).toMatch(reason);
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(front.seen.length).toBe(0);
  });

  it('a configured endpoint wins over the catalog', async () => {
    expect(await passwordDriver({ endpoint: front.url, interface: 'internal' }).status('host3')).toEqual({ ok: true, value: 'on' });
    expect(front.seen.length).toBe(1);
  });
});
