import { z } from 'zod';
import { httpJson, backoffDelay, serviceMessage, short, type HttpAnswer, type HttpPolicy, type Sleep } from '../../nova/http';
import { KeystoneAppCredentialSchema, KeystonePasswordSchema, KeystoneSession, NOAUTH_NEEDS_ENDPOINT, OPENSTACK_CLIENT_FIELDS } from '../../nova/keystone';
import { done, failed, ok, type Outcome, type PowerDriver, type PowerStatus } from '../../ports';

/**
 * Host power through the host's Ironic bare-metal node.
 *
 * Protocol (sources: ../shared/reference/openstack-actuation.md; Ironic API
 * reference "Node State Change"; `ironic/api/controllers/v1/node.py`,
 * `ironic/conductor/manager.py` and `task_manager.py` of Ironic 21 / Zed,
 * Debian 12's python3-ironic 21.4):
 * - Header `X-OpenStack-Ironic-API-Version: 1.27` on every call. Without it
 *   Ironic serves 1.1, where a node can be addressed by UUID only (a name is
 *   404); ≥ 1.5 accepts names, ≥ 1.27 soft power off and `timeout`.
 * - `GET /v1/nodes/{node}/states` → 200 `{"power_state": "power on" | "power
 *   off" | "error" | null, "target_power_state": … | null, "last_error": … |
 *   null, …}`. `target_power_state` is non-null while a change is in progress;
 *   `power_state` is then still the old state (the caller polls). null = Ironic
 *   never read the power (a new node), `error` = its last power sync failed:
 *   neither is on or off, so both are failures carrying a prefix of
 *   `last_error`.
 * - `PUT /v1/nodes/{node}/states/power` `{"target": "power on" | "power off"}`
 *   → 202 accepted (the conductor acts asynchronously; power off is hard off).
 * - 409 Conflict "Node … is locked by host …, please retry after the current
 *   operation is completed": another operation holds the node's lock (Ironic's
 *   conductor already retried `[conductor] node_locked_retry_attempts` times).
 *   Not a refusal: retried here after a back-off, at most `conflictRetries`
 *   more times.
 * - 404 "Node … could not be found." Other 4xx (400 "The requested action …
 *   can not be performed on node … while it is in state …", 406, 403) are
 *   refusals. Errors are `{"error_message": "{\"faultcode\": …,
 *   \"faultstring\": \"…\", …}"}` (JSON inside a string; http.ts reads it).
 * - Auth: `X-Auth-Token` from Keystone (keystone.ts; the endpoint from the
 *   catalog, service type `baremetal`, a root such as `http://ironic:6385`,
 *   `/v1` appended), renewed once on a 401; `noauth` (Ironic's `auth_strategy
 *   = noauth`) sends no token, to a configured endpoint.
 * Retries of 5xx and connection errors, and the per-attempt deadline, are in
 * http.ts. Reasons name the host and its node, never a token or a secret.
 */
export const IRONIC_API_VERSION = '1.27';
/** Longest part of `last_error` kept in a reason (it may quote a BMC's answer). */
export const LAST_ERROR_PREFIX = 80;

/** One host's node (`applier.power.<host>` with `driver: ironic`). */
export const IronicHostSchema = z
  .object({
    /** The node's UUID or name. */
    nodeId: z.string().min(1).max(255),
  })
  .strict();
export type IronicHost = z.infer<typeof IronicHostSchema>;
/** A host's node when the hosts are not a fixed list (the config's default entry `*`); undefined = not an Ironic host. */
export type IronicHostLookup = (hostId: string) => IronicHost | undefined;

const NoAuthSchema = z.object({ type: z.literal('noauth') }).strict();

export const IronicOptionsSchema = z
  .object({
    auth: z.union([NoAuthSchema, KeystonePasswordSchema, KeystoneAppCredentialSchema]),
    /** Bare-metal endpoint (`http://ironic:6385`, with or without `/v1`); without it, from Keystone's catalog. Required with `noauth`. */
    endpoint: z.string().url().max(2048).optional(),
    ...OPENSTACK_CLIENT_FIELDS,
    /** Extra attempts after a 409 (node locked by another operation). */
    conflictRetries: z.number().int().min(0).max(20).default(8),
  })
  .strict()
  .refine(...NOAUTH_NEEDS_ENDPOINT);
export type IronicOptions = z.infer<typeof IronicOptionsSchema>;

const StatesSchema = z.object({
  power_state: z.string().nullable(),
  target_power_state: z.string().nullish(),
  last_error: z.string().nullish(),
});

interface IronicCall {
  readonly method: 'GET' | 'PUT';
  readonly path: string;
  /** Method and path for reasons, e.g. `GET /v1/nodes/{node}/states`. */
  readonly what: string;
  readonly body?: unknown;
}

export class IronicPowerDriver implements PowerDriver {
  readonly kind = 'ironic' as const;
  private readonly hosts: IronicHostLookup;
  private readonly options: IronicOptions;
  private readonly policy: HttpPolicy;
  private readonly keystone: KeystoneSession | null;

  constructor(
    /** host → its node; or a lookup (validated by its caller). */
    hosts: Readonly<Record<string, z.input<typeof IronicHostSchema>>> | IronicHostLookup,
    options: z.input<typeof IronicOptionsSchema>,
    private readonly sleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    if (typeof hosts === 'function') this.hosts = hosts;
    else {
      const m = new Map(Object.entries(hosts).map(([id, h]) => [id, IronicHostSchema.parse(h)]));
      this.hosts = (id) => m.get(id);
    }
    this.options = IronicOptionsSchema.parse(options);
    const o = this.options;
    this.policy = { timeoutMs: o.timeoutMs, retries: o.retries, backoffMs: o.backoffMs, backoffMaxMs: o.backoffMaxMs };
    this.keystone =
      o.auth.type === 'noauth'
        ? null
        : new KeystoneSession(o.auth, { serviceType: 'baremetal', interface: o.interface, region: o.region }, this.policy, o.tokenRenewMarginMs, sleep);
  }

  async status(hostId: string): Promise<Outcome<PowerStatus>> {
    const h = this.host(hostId);
    if (!h.ok) return h;
    const who = h.value;
    const what = 'GET /v1/nodes/{node}/states';
    const r = await this.call(who, { method: 'GET', path: `/nodes/${encodeURIComponent(who.nodeId)}/states`, what });
    if (!r.ok) return r;
    const bad = refusal(who, what, r.value, 200);
    if (bad) return bad;
    const parsed = StatesSchema.safeParse(r.value.body);
    if (!parsed.success) return failed(`${who.label}: unexpected answer to ${what}`, false, r.value.status);
    const s = parsed.data;
    if (s.power_state === 'power on') return ok('on');
    if (s.power_state === 'power off') return ok('off');
    const err = s.last_error ? `: ${lastError(s.last_error)}` : '';
    if (s.power_state === null) return failed(`${who.label}: power state unknown to Ironic (null)${err}`);
    if (s.power_state === 'error') return failed(`${who.label}: power state error${err}`);
    return failed(`${who.label}: unexpected power state ${short(s.power_state).slice(0, 40)}${err}`);
  }

  on(hostId: string): Promise<Outcome> {
    return this.power(hostId, 'power on');
  }

  off(hostId: string): Promise<Outcome> {
    return this.power(hostId, 'power off');
  }

  private async power(hostId: string, target: 'power on' | 'power off'): Promise<Outcome> {
    const h = this.host(hostId);
    if (!h.ok) return h;
    const who = h.value;
    const what = `PUT /v1/nodes/{node}/states/power ${target}`;
    const r = await this.call(who, { method: 'PUT', path: `/nodes/${encodeURIComponent(who.nodeId)}/states/power`, what, body: { target } });
    if (!r.ok) return r;
    return refusal(who, what, r.value, 202) ?? done;
  }

  private host(hostId: string): Outcome<Who> {
    const h = this.hosts(hostId);
    if (!h) return failed(`no Ironic settings for host ${short(hostId)}`, true);
    return ok({ nodeId: h.nodeId, label: `Ironic node ${short(h.nodeId)} of host ${short(hostId)}` });
  }

  /**
   * One Ironic call with auth: a 401 with a Keystone token renews it and
   * repeats once; a 409 (node locked) is repeated after a back-off, at most
   * `conflictRetries` times, then is a failure (not a refusal).
   */
  private async call(who: Who, c: IronicCall): Promise<Outcome<HttpAnswer>> {
    for (let conflict = 0; ; conflict++) {
      if (conflict > 0) await this.sleep(backoffDelay(this.policy, conflict));
      const r = await this.authorized(who, c);
      if (!r.ok || r.value.status !== 409) return r;
      if (conflict >= this.options.conflictRetries) {
        const msg = serviceMessage(r.value.body);
        return failed(`${who.label}: ${c.what}: 409 after ${conflict + 1} tries${msg ? ` ${msg}` : ''}`, false, 409);
      }
    }
  }

  private async authorized(who: Who, c: IronicCall): Promise<Outcome<HttpAnswer>> {
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authFor();
      if (!auth.ok) return failed(`${who.label}: ${auth.reason}`, auth.refused, auth.status);
      const headers: Record<string, string> = { 'X-OpenStack-Ironic-API-Version': IRONIC_API_VERSION };
      if (auth.value.token !== null) headers['X-Auth-Token'] = auth.value.token;
      const r = await httpJson(
        this.policy,
        { method: c.method, url: `${auth.value.endpoint}${c.path}`, headers, body: c.body, service: 'Ironic', what: c.what },
        this.sleep,
      );
      if (r.ok && r.value.status === 401 && this.keystone && auth.value.token !== null && attempt === 0) {
        this.keystone.invalidate(auth.value.token);
        continue;
      }
      return r.ok ? r : failed(`${who.label}: ${r.reason}`, r.refused, r.status);
    }
  }

  /** The `/v1` root and the token (null with noauth). */
  private async authFor(): Promise<Outcome<{ endpoint: string; token: string | null }>> {
    const o = this.options;
    if (o.auth.type === 'noauth') return ok({ endpoint: v1(o.endpoint!), token: null });
    const t = await this.keystone!.token();
    if (!t.ok) return t;
    const endpoint = o.endpoint ?? t.value.endpointUrl;
    if (!endpoint) {
      return failed(`Keystone's catalog has no baremetal endpoint with interface ${o.interface}${o.region ? ` in region ${short(o.region)}` : ''}; set endpoint`, true);
    }
    return ok({ endpoint: v1(endpoint), token: t.value.value });
  }
}

interface Who {
  readonly nodeId: string;
  /** `Ironic node N of host H`, for reasons. */
  readonly label: string;
}

/** The API root with `/v1` once: the catalog lists Ironic's root (`http://ironic:6385`), some deployments `…/v1`. */
function v1(endpoint: string): string {
  const e = endpoint.replace(/\/+$/, '');
  return /\/v1$/.test(e) ? e : `${e}/v1`;
}

/** Null when the answer has the expected status; otherwise a refusal (4xx) or failure carrying Ironic's message. */
function refusal(who: Who, what: string, a: HttpAnswer, expected: number): Outcome<never> | null {
  if (a.status === expected) return null;
  const msg = serviceMessage(a.body);
  if (a.status === 404) return failed(`${who.label}: not found (404)${msg ? ` ${msg}` : ''}`, true, 404);
  return failed(`${who.label}: ${what}: ${a.status}${msg ? ` ${msg}` : ''}`, a.status >= 400 && a.status < 500, a.status);
}

function lastError(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > LAST_ERROR_PREFIX ? `${t.slice(0, LAST_ERROR_PREFIX)}…` : t;
}
