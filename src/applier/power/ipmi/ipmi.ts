import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { z } from 'zod';
import { done, failed, ok, type Outcome, type PowerDriver, type PowerStatus } from '../../ports';

/**
 * Host power through the host's BMC, with ipmitool over IPMI 2.0 / RMCP+.
 *
 * Protocol (sources: ipmitool(1) of ipmitool 1.8.19; IPMI v2.0 rev. 1.1 spec,
 * §13 "IPMI LAN interface" for RMCP+ sessions and §28 "Chassis device
 * commands"):
 * - `ipmitool -I lanplus -H ADDR -p PORT -U USER -f PASSWORD_FILE [-C SUITE] -R N -N S -v chassis power status|on|off`.
 *   `status` sends Get Chassis Status (NetFn chassis 0x00, cmd 0x01) and
 *   prints `Chassis Power is on|off`; `on`/`off` send Chassis Control (cmd
 *   0x02, 0x01 power up / 0x00 power down = hard off, no ACPI shutdown) and
 *   print `Chassis Power Control: Up/On|Down/Off`. Control is accepted, not
 *   finished: the caller polls `status`.
 * - The password stays off the command line (where `ps` shows it) and out of
 *   this process: `-f FILE` makes ipmitool read it. IPMI_PASSWORD is removed
 *   from the child's environment so `-E` can never pick up a stray one.
 * - Session set-up (RMCP+ Open Session, RAKP 1-4) fails fast with `RAKP 2 HMAC
 *   is invalid` (wrong password) or `RAKP 2 message indicates an error :
 *   unauthorized name` (unknown user): the BMC answered and refused, so
 *   repeating will not help (`refused`). No answer at all prints `Get Auth
 *   Capabilities error` after ipmitool's own retries (`-R` tries, `-N` seconds
 *   apart, growing); a hard deadline (`timeoutMs`) kills ipmitool in any case.
 * - Without `-C`, ipmitool 1.8.19 first asks the BMC for its cipher suites
 *   (Get Channel Cipher Suites) and picks the best; BMCs that do not answer
 *   that (OpenIPMI's ipmi_sim among them) cost a retry cycle, so `cipherSuite`
 *   (3 = RAKP-HMAC-SHA1/AES-CBC-128, 17 = HMAC-SHA256) can be set per host.
 * - One ipmitool at a time per BMC: BMCs hold few sessions.
 */

/** One host's BMC (`applier.power.<host>` with `driver: ipmi`). */
export const IpmiHostSchema = z
  .object({
    address: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65_535).default(623),
    user: z.string().min(1).max(16),
    /** A file holding the password (first line); never the password itself. */
    passwordFile: z.string().min(1).max(4096),
    cipherSuite: z.number().int().min(0).max(17).optional(),
  })
  .strict();
export type IpmiHost = z.infer<typeof IpmiHostSchema>;

export const IpmiOptionsSchema = z
  .object({
    /** Kill ipmitool after this long (ms). */
    timeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** ipmitool `-R`: tries per request. */
    retries: z.number().int().min(1).max(10).default(2),
    /** ipmitool `-N`: seconds between tries. */
    retryIntervalS: z.number().int().min(1).max(60).default(1),
    /** The ipmitool binary. */
    ipmitool: z.string().min(1).max(4096).default('ipmitool'),
  })
  .strict();
export type IpmiOptions = z.infer<typeof IpmiOptionsSchema>;

/** Longest piece of ipmitool's output kept in a reason. */
const REASON_PREFIX = 160;
/** ipmitool prints a few lines; anything beyond this is not read. */
const MAX_OUTPUT = 64 * 1024;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly spawnError?: string;
}

export class IpmiPowerDriver implements PowerDriver {
  readonly kind = 'ipmi' as const;
  private readonly hosts: ReadonlyMap<string, IpmiHost>;
  private readonly options: IpmiOptions;
  /** The tail of each BMC's queue: one ipmitool at a time per host. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(hosts: Readonly<Record<string, z.input<typeof IpmiHostSchema>>>, options: z.input<typeof IpmiOptionsSchema> = {}) {
    this.hosts = new Map(Object.entries(hosts).map(([id, h]) => [id, IpmiHostSchema.parse(h)]));
    this.options = IpmiOptionsSchema.parse(options);
  }

  async status(hostId: string): Promise<Outcome<PowerStatus>> {
    const r = await this.chassis(hostId, 'status');
    if (!r.ok) return r;
    const m = /Chassis Power is (on|off)/.exec(r.value);
    if (!m) return failed(`BMC of ${hostId}: unexpected answer to power status: ${short(r.value)}`);
    return ok(m[1] as PowerStatus);
  }

  async on(hostId: string): Promise<Outcome> {
    return this.control(hostId, 'on', /Chassis Power Control: Up\/On/);
  }

  async off(hostId: string): Promise<Outcome> {
    return this.control(hostId, 'off', /Chassis Power Control: Down\/Off/);
  }

  private async control(hostId: string, verb: 'on' | 'off', expect: RegExp): Promise<Outcome> {
    const r = await this.chassis(hostId, verb);
    if (!r.ok) return r;
    return expect.test(r.value) ? done : failed(`BMC of ${hostId}: unexpected answer to power ${verb}: ${short(r.value)}`);
  }

  /** Runs `chassis power VERB` against the host's BMC; the value is ipmitool's stdout. */
  private chassis(hostId: string, verb: 'status' | 'on' | 'off'): Promise<Outcome<string>> {
    const prev = this.queues.get(hostId) ?? Promise.resolve();
    const next = prev.then(() => this.chassisNow(hostId, verb));
    const tail = next.finally(() => {
      if (this.queues.get(hostId) === tail) this.queues.delete(hostId);
    });
    this.queues.set(hostId, tail);
    return next;
  }

  private async chassisNow(hostId: string, verb: 'status' | 'on' | 'off'): Promise<Outcome<string>> {
    const h = this.hosts.get(hostId);
    if (!h) return failed(`no IPMI settings for host ${short(hostId)}`, true);
    const bmc = `BMC of ${hostId} (${h.address}:${h.port})`;
    try {
      await fs.promises.access(h.passwordFile, fs.constants.R_OK);
    } catch {
      return failed(`${bmc}: password file ${h.passwordFile} is not readable`, true);
    }
    const o = this.options;
    const args = ['-I', 'lanplus', '-H', h.address, '-p', String(h.port), '-U', h.user, '-f', h.passwordFile];
    if (h.cipherSuite !== undefined) args.push('-C', String(h.cipherSuite));
    args.push('-R', String(o.retries), '-N', String(o.retryIntervalS), '-v', 'chassis', 'power', verb);
    const r = await run(o.ipmitool, args, o.timeoutMs);
    if (r.spawnError) return failed(`${bmc}: cannot run ${o.ipmitool}: ${short(r.spawnError)}`);
    if (r.timedOut) return failed(`${bmc}: timeout, no answer to power ${verb} within ${o.timeoutMs} ms`);
    if (r.code === 0) return ok(r.stdout);
    const err = r.stderr;
    if (/RAKP \d HMAC is invalid|unauthorized name|RAKP \d message indicates an error|insufficient privilege/i.test(err)) {
      return failed(`${bmc} refused the credentials of user ${h.user} (wrong password or user)`, true);
    }
    if (/Get Auth Capabilities error|No response|Insufficient resources for session|timeout/i.test(err)) {
      return failed(`${bmc}: timeout, no answer to power ${verb} after ${o.retries} tries`);
    }
    return failed(`${bmc}: ipmitool exited ${r.code ?? 'on a signal'}: ${short(lastLine(err) || lastLine(r.stdout))}`);
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' };
    // stdin closed: ipmitool must never sit at a password prompt.
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (r: Run): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += c.toString('utf8');
    });
    child.on('error', (e) => finish({ code: null, stdout, stderr, timedOut: false, spawnError: e.message }));
    child.on('close', (code) => finish({ code, stdout, stderr, timedOut }));
  });
}

function lastLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

function short(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > REASON_PREFIX ? `${t.slice(0, REASON_PREFIX)}…` : t;
}
