import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBmcSim, type BmcSim } from '../../../../test/fixtures/bmc-sim';
import { IpmiPowerDriver, type IpmiHost } from './ipmi';

/**
 * The IPMI power driver against real simulated BMCs (OpenIPMI ipmi_sim via
 * nova-box's bmc_sim.py). Every power state asserted through the driver is
 * also read back from the simulator's own state file.
 */
let bmcs: BmcSim;
let blackhole: dgram.Socket;
let blackholePort: number;

beforeAll(async () => {
  bmcs = await startBmcSim(['host1', 'host2'], { off: ['host2'] });
  // A UDP port that takes datagrams and never answers: a BMC that is down or firewalled.
  blackhole = dgram.createSocket('udp4');
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', () => r()));
  blackholePort = blackhole.address().port;
});

afterAll(async () => {
  blackhole?.close();
  await bmcs?.stop();
});

/** ipmi_sim does not answer Get Channel Cipher Suites: name suite 3 to skip that lookup. */
const host = (name: string, over: Partial<IpmiHost> = {}): IpmiHost => {
  const b = bmcs.hosts[name];
  return { address: b.address, port: b.port, user: b.user, passwordFile: b.passwordFile, cipherSuite: 3, ...over };
};

describe('IPMI power driver against ipmi_sim', () => {
  it('reads the power each BMC starts with: host1 on, host2 off', async () => {
    const d = new IpmiPowerDriver({ host1: host('host1'), host2: host('host2') });
    expect(await d.status('host1')).toEqual({ ok: true, value: 'on' });
    expect(await d.status('host2')).toEqual({ ok: true, value: 'off' });
  });

  it.each([
    { name: 'off, then status reports off', verb: 'off', expected: 'off' },
    { name: 'off again is accepted (idempotent) and stays off', verb: 'off', expected: 'off' },
    { name: 'on, then status reports on', verb: 'on', expected: 'on' },
    { name: 'on again is accepted and stays on', verb: 'on', expected: 'on' },
  ] as const)('power $name', async ({ verb, expected }) => {
    const d = new IpmiPowerDriver({ host1: host('host1') });
    expect(await d[verb]('host1')).toEqual({ ok: true, value: undefined });
    expect(await d.status('host1')).toEqual({ ok: true, value: expected });
    expect(bmcs.power('host1')).toBe(expected);
  });

  it('serializes commands to one BMC: on/off/status issued together run in order', async () => {
    const d = new IpmiPowerDriver({ host2: host('host2') });
    const [a, b, c, s] = await Promise.all([d.on('host2'), d.off('host2'), d.on('host2'), d.status('host2')]);
    expect([a.ok, b.ok, c.ok]).toEqual([true, true, true]);
    expect(s).toEqual({ ok: true, value: 'on' });
    expect(await d.off('host2')).toEqual({ ok: true, value: undefined });
    expect(bmcs.power('host2')).toBe('off');
  });

  it('a wrong password is a refusal naming the host, and leaves the power alone', async () => {
    const wrong = path.join(bmcs.dir, 'wrong-password');
    fs.writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    const d = new IpmiPowerDriver({ host1: host('host1', { passwordFile: wrong }) });
    const before = bmcs.power('host1');
    const r = await d.off('host1');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.refused).toBe(true);
    expect(r.reason).toContain('host1');
    expect(r.reason).toContain(`127.0.0.1:${bmcs.hosts.host1.port}`);
    expect(r.reason).toMatch(/refused the credentials of user admin/);
    expect(r.reason).not.toContain('not-the-password');
    expect(r.reason).not.toContain(bmcs.hosts.host1.password);
    expect(bmcs.power('host1')).toBe(before);
  });

  it('an unknown user is a refusal too', async () => {
    const r = await new IpmiPowerDriver({ host1: host('host1', { user: 'nobody' }) }).status('host1');
    expect(r).toMatchObject({ ok: false, refused: true, reason: expect.stringMatching(/host1.*refused the credentials of user nobody/) });
  });

  it('a BMC that never answers is a timeout after ipmitool gives up (1 try), not a refusal', async () => {
    const d = new IpmiPowerDriver({ host9: host('host1', { port: blackholePort }) }, { retries: 1, timeoutMs: 20_000 });
    const t0 = Date.now();
    const r = await d.status('host9');
    expect(r).toMatchObject({ ok: false, refused: false, reason: expect.stringMatching(/BMC of host9 \(127\.0\.0\.1:\d+\): timeout/) });
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('the hard deadline kills ipmitool: 600 ms against its own 10 tries', async () => {
    const d = new IpmiPowerDriver({ host9: host('host1', { port: blackholePort }) }, { retries: 10, timeoutMs: 600 });
    const t0 = Date.now();
    const r = await d.off('host9');
    expect(r).toMatchObject({ ok: false, refused: false, reason: expect.stringMatching(/host9.*timeout, no answer to power off within 600 ms/) });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it.each([
    { name: 'a host without IPMI settings', hostId: 'host7', hosts: {}, reason: /no IPMI settings for host host7/ },
    { name: 'a missing password file', hostId: 'host1', hosts: { host1: { passwordFile: '/nonexistent/pw' } }, reason: /host1.*password file \/nonexistent\/pw is not readable/ },
  ])('$name is a refusal, without running ipmitool', async ({ hostId, hosts, reason }) => {
    const cfg = Object.fromEntries(Object.entries(hosts).map(([k, v]) => [k, host('host1', v)]));
    const r = await new IpmiPowerDriver(cfg, { ipmitool: '/nonexistent/ipmitool' }).status(hostId);
    expect(r).toMatchObject({ ok: false, refused: true, reason: expect.stringMatching(reason) });
  });

  it('a missing ipmitool binary is a failure value, not a throw', async () => {
    const r = await new IpmiPowerDriver({ host1: host('host1') }, { ipmitool: '/nonexistent/ipmitool' }).status('host1');
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/host1.*cannot run \/nonexistent\/ipmitool/) });
  });

  it('the password is never on ipmitool\'s command line nor in its environment', async () => {
    // A wrapper that records what ipmitool is started with, then runs the real one.
    const log = path.join(bmcs.dir, 'argv.log');
    const wrapper = path.join(bmcs.dir, 'ipmitool-wrapper.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\n{ echo "$@"; env; } >> '${log}'\nexec /usr/bin/ipmitool "$@"\n`, { mode: 0o755 });
    const d = new IpmiPowerDriver({ host1: host('host1') }, { ipmitool: wrapper });
    const saved = process.env.IPMI_PASSWORD;
    process.env.IPMI_PASSWORD = 'stray-password-in-parent-env';
    try {
      expect(await d.status('host1')).toMatchObject({ ok: true });
    } finally {
      if (saved === undefined) delete process.env.IPMI_PASSWORD;
      else process.env.IPMI_PASSWORD = saved;
    }
    const seen = fs.readFileSync(log, 'utf8');
    expect(seen).toContain(`-f ${bmcs.hosts.host1.passwordFile}`);
    expect(seen).not.toContain(bmcs.hosts.host1.password);
    expect(seen).not.toContain('IPMI_PASSWORD');
  });
});
