import { z } from 'zod';
import { done, failed, ok, type CloudMigration, type CloudServer, type ComputeCloud, type ComputeService, type Outcome } from '../ports';
import { httpJson, serviceMessage, short, type HttpAnswer, type HttpPolicy, type Sleep } from './http';
import { KeystoneAppCredentialSchema, KeystonePasswordSchema, KeystoneSession, NOAUTH_NEEDS_ENDPOINT, OPENSTACK_CLIENT_FIELDS } from './keystone';

/**
 * The applier's view of Nova's Compute API (admin).
 *
 * Protocol (sources: ../shared/reference/openstack-actuation.md; Nova API
 * reference and `nova/api/openstack/compute/{servers,migrate_server,services,
 * migrations}.py` of Nova 26 / Zed; REST API version history):
 * - Microversion per call, header `OpenStack-API-Version: compute 2.X`:
 *   reads and service updates at 2.60 (≥ 2.47 servers embed their flavor's
 *   `vcpus`/`ram`; ≥ 2.53 services are addressed by UUID; ≥ 2.59 migrations
 *   carry a uuid and come newest first). Live migration at 2.30: ≥ 2.25 allows
 *   `block_migration: "auto"`, ≥ 2.30 makes Nova's scheduler check the named
 *   host (filters run, no `force`); below 2.34 those pre-checks run *inside*
 *   the request, so a target without room, a disabled target or an unknown one
 *   comes back at once as 400 with Nova's reason ("No valid host was found.",
 *   "Compute host X could not be found."), instead of a 202 followed by a
 *   migration record in `error` with no reason. 202 = accepted: the applier
 *   follows `getServer` / `migrations` until ACTIVE on the target or failed.
 * - `GET /servers/detail?all_tenants=1[&host=H]` (admin filters), paged by
 *   Nova's `[api] max_limit` (1000): `servers_links` rel `next` carries the
 *   marker of the next page. Fields: `OS-EXT-SRV-ATTR:host`, `status`,
 *   `OS-EXT-STS:task_state`, `flavor.vcpus`, `flavor.ram`. `os-migrations`
 *   pages the same way (≥ 2.59, `migrations_links`).
 * - `GET /os-services?binary=nova-compute[&host=H]`; `PUT /os-services/{uuid}`
 *   `{"status": "disabled", "disabled_reason": R}` (R ≤ 255 characters) or
 *   `{"status": "enabled"}`.
 * - `POST /servers/{id}/action` `{"os-migrateLive": {"host": T, "block_migration": "auto"}}`.
 * - `GET /os-migrations?instance_uuid=ID&migration_type=live-migration`.
 * - Errors: `{"<faultName>": {"code": N, "message": "…"}}`.
 * - Auth: `X-Auth-Token` from Keystone (see keystone.ts); `noauth` sends
 *   `X-Auth-Token: USER:PROJECT`, what Nova's `auth_strategy = noauth2`
 *   expects (user `admin` = admin), to a configured endpoint.
 * Retries (5xx, connection errors; never 4xx; live migration only when it
 * surely was not processed) are in http.ts.
 */
export const READ_MICROVERSION = '2.60';
export const LIVE_MIGRATE_MICROVERSION = '2.30';
/** Nova's column for `disabled_reason` is 255 characters. */
export const MAX_DISABLED_REASON = 255;
/** Pages followed in one listing (Nova's default page is 1000 items): 100,000 servers. */
export const MAX_PAGES = 100;
/** Longest id accepted in a path (Nova's are 36-character UUIDs). */
const MAX_ID = 255;

const NoAuthSchema = z
  .object({
    type: z.literal('noauth'),
    user: z.string().min(1).max(255).default('admin'),
    project: z.string().min(1).max(255).default('admin'),
  })
  .strict();

export const NovaOptionsSchema = z
  .object({
    auth: z.union([NoAuthSchema, KeystonePasswordSchema, KeystoneAppCredentialSchema]),
    /** Compute endpoint (`…/v2.1`); without it, from Keystone's catalog. Required with `noauth`. */
    endpoint: z.string().url().max(2048).optional(),
    ...OPENSTACK_CLIENT_FIELDS,
    /** Deadline of the live-migration request: at 2.30 Nova runs the scheduler's checks inside it (ms). */
    liveMigrateTimeoutMs: z.number().int().min(100).max(1_800_000).default(180_000),
  })
  .strict()
  .refine(...NOAUTH_NEEDS_ENDPOINT);
export type NovaOptions = z.infer<typeof NovaOptionsSchema>;

const ServerSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  'OS-EXT-SRV-ATTR:host': z.string().nullish(),
  'OS-EXT-STS:task_state': z.string().nullish(),
  flavor: z.object({ vcpus: z.number(), ram: z.number() }),
});
const ServiceSchema = z.object({
  id: z.string(),
  host: z.string(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  disabled_reason: z.string().nullish(),
  updated_at: z.string().nullish(),
});
const MigrationSchema = z.object({
  id: z.number(),
  instance_uuid: z.string(),
  status: z.string(),
  source_compute: z.string().nullish(),
  dest_compute: z.string().nullish(),
});

const toServer = (s: z.infer<typeof ServerSchema>): CloudServer => ({
  id: s.id,
  name: s.name,
  host: s['OS-EXT-SRV-ATTR:host'] ?? null,
  status: s.status,
  taskState: s['OS-EXT-STS:task_state'] ?? null,
  vcpus: s.flavor.vcpus,
  ramMb: s.flavor.ram,
});
const toService = (s: z.infer<typeof ServiceSchema>): ComputeService => ({
  id: s.id,
  host: s.host,
  state: s.state,
  status: s.status,
  disabledReason: s.disabled_reason ?? null,
  updatedAt: s.updated_at ?? null,
});

interface NovaCall {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Path below the endpoint, query included, ids already encoded. */
  readonly path: string;
  /** Method and path for reasons (no query values). */
  readonly what: string;
  readonly microversion: string;
  readonly body?: unknown;
  readonly idempotent?: boolean;
  readonly timeoutMs?: number;
}

export class NovaClient implements ComputeCloud {
  private readonly options: NovaOptions;
  private readonly policy: HttpPolicy;
  private readonly keystone: KeystoneSession | null;

  constructor(options: z.input<typeof NovaOptionsSchema>, private readonly sleep?: Sleep) {
    this.options = NovaOptionsSchema.parse(options);
    const o = this.options;
    this.policy = { timeoutMs: o.timeoutMs, retries: o.retries, backoffMs: o.backoffMs, backoffMaxMs: o.backoffMaxMs };
    this.keystone =
      o.auth.type === 'noauth' ? null : new KeystoneSession(o.auth, { serviceType: 'compute', interface: o.interface, region: o.region }, this.policy, o.tokenRenewMarginMs, sleep);
  }

  async listServers(host?: string): Promise<Outcome<CloudServer[]>> {
    if (host !== undefined && !validId(host)) return failed(`host name must be 1-${MAX_ID} characters`, true);
    const q = new URLSearchParams({ all_tenants: '1' });
    if (host !== undefined) q.set('host', host);
    const r = await this.pages('/servers/detail', q, 'servers', ServerSchema);
    return r.ok ? ok(r.value.map(toServer)) : r;
  }

  async getServer(id: string): Promise<Outcome<CloudServer | null>> {
    if (!validId(id)) return failed(`server id must be 1-${MAX_ID} characters`, true);
    const r = await this.call({ method: 'GET', path: `/servers/${encodeURIComponent(id)}`, what: 'GET /servers/{id}', microversion: READ_MICROVERSION });
    if (!r.ok) return r;
    if (r.value.status === 404) return ok(null);
    const bad = this.refusal('GET /servers/{id}', r.value, 200);
    if (bad) return bad;
    const parsed = z.object({ server: ServerSchema }).safeParse(r.value.body);
    return parsed.success ? ok(toServer(parsed.data.server)) : failed(`Nova GET /servers/{id}: unexpected answer (${issueAt(parsed.error)})`, false, r.value.status);
  }

  async computeServices(host?: string): Promise<Outcome<ComputeService[]>> {
    if (host !== undefined && !validId(host)) return failed(`host name must be 1-${MAX_ID} characters`, true);
    const q = new URLSearchParams({ binary: 'nova-compute' });
    if (host !== undefined) q.set('host', host);
    const r = await this.json(
      { method: 'GET', path: `/os-services?${q}`, what: 'GET /os-services', microversion: READ_MICROVERSION },
      z.object({ services: z.array(ServiceSchema) }),
    );
    return r.ok ? ok(r.value.services.map(toService)) : r;
  }

  async setServiceStatus(serviceId: string, enabled: boolean, reason?: string): Promise<Outcome> {
    if (!validId(serviceId)) return failed(`service id must be 1-${MAX_ID} characters`, true);
    if (reason !== undefined && reason.length > MAX_DISABLED_REASON) return failed(`disabled reason longer than ${MAX_DISABLED_REASON} characters`, true);
    const body = enabled ? { status: 'enabled' } : { status: 'disabled', ...(reason !== undefined ? { disabled_reason: reason } : {}) };
    const r = await this.json(
      { method: 'PUT', path: `/os-services/${encodeURIComponent(serviceId)}`, what: 'PUT /os-services/{id}', microversion: READ_MICROVERSION, body },
      z.object({ service: ServiceSchema }),
    );
    if (!r.ok) return r;
    const want = enabled ? 'enabled' : 'disabled';
    return r.value.service.status === want ? done : failed(`Nova PUT /os-services/{id}: service is ${r.value.service.status}, not ${want}`);
  }

  async liveMigrate(serverId: string, targetHost: string): Promise<Outcome> {
    if (!validId(serverId)) return failed(`server id must be 1-${MAX_ID} characters`, true);
    if (!validId(targetHost)) return failed(`target host must be 1-${MAX_ID} characters`, true);
    const what = 'POST /servers/{id}/action os-migrateLive';
    const r = await this.call({
      method: 'POST',
      path: `/servers/${encodeURIComponent(serverId)}/action`,
      what,
      microversion: LIVE_MIGRATE_MICROVERSION,
      body: { 'os-migrateLive': { host: targetHost, block_migration: 'auto' } },
      idempotent: false,
      timeoutMs: this.options.liveMigrateTimeoutMs,
    });
    if (!r.ok) return r;
    return this.refusal(what, r.value, 202) ?? done;
  }

  async migrations(serverId: string): Promise<Outcome<CloudMigration[]>> {
    if (!validId(serverId)) return failed(`server id must be 1-${MAX_ID} characters`, true);
    const q = new URLSearchParams({ instance_uuid: serverId, migration_type: 'live-migration' });
    const r = await this.pages('/os-migrations', q, 'migrations', MigrationSchema);
    if (!r.ok) return r;
    const list = r.value
      .filter((m) => m.instance_uuid === serverId)
      .map((m): CloudMigration => ({ id: m.id, serverId: m.instance_uuid, status: m.status, sourceHost: m.source_compute ?? null, destHost: m.dest_compute ?? null }))
      .sort((a, b) => b.id - a.id);
    return ok(list);
  }

  /**
   * Every item of a paged listing: Nova answers at most `[api] max_limit`
   * items and, when there may be more, a `<key>_links` entry `rel: next`
   * whose `marker` starts the next page.
   */
  private async pages<T>(path: string, query: URLSearchParams, key: string, item: z.ZodType<T>): Promise<Outcome<T[]>> {
    const schema = z.object({ [key]: z.array(item), [`${key}_links`]: z.array(z.object({ rel: z.string(), href: z.string() })).optional() });
    const out: T[] = [];
    const q = new URLSearchParams(query);
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.json({ method: 'GET', path: `${path}?${q}`, what: `GET ${path}`, microversion: READ_MICROVERSION }, schema);
      if (!r.ok) return r;
      const items = r.value[key] as T[];
      out.push(...items);
      const links = r.value[`${key}_links`] as { rel: string; href: string }[] | undefined;
      const next = links?.find((l) => l.rel === 'next');
      const marker = next ? markerOf(next.href) : null;
      if (!marker || items.length === 0) return ok(out);
      q.set('marker', marker);
    }
    return failed(`Nova GET ${path}: more than ${MAX_PAGES} pages`);
  }

  /** A call whose only good answer is 200 with a body of this shape. */
  private async json<T>(c: NovaCall, schema: z.ZodType<T>): Promise<Outcome<T>> {
    const r = await this.call(c);
    if (!r.ok) return r;
    const bad = this.refusal(c.what, r.value, 200);
    if (bad) return bad;
    const parsed = schema.safeParse(r.value.body);
    return parsed.success ? ok(parsed.data) : failed(`Nova ${c.what}: unexpected answer (${issueAt(parsed.error)})`, false, r.value.status);
  }

  /** Null when the answer has the expected status; otherwise a refusal carrying Nova's message. */
  private refusal(what: string, a: HttpAnswer, expected: number): Outcome<never> | null {
    if (a.status === expected) return null;
    const msg = serviceMessage(a.body);
    return failed(`Nova ${what}: ${a.status}${msg ? ` ${msg}` : ''}`, a.status >= 400 && a.status < 500, a.status);
  }

  /** One Nova call with auth; a 401 with a Keystone token renews it and repeats once. */
  private async call(c: NovaCall): Promise<Outcome<HttpAnswer>> {
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authFor();
      if (!auth.ok) return auth;
      const r = await httpJson(
        this.policy,
        {
          method: c.method,
          url: `${auth.value.endpoint}${c.path}`,
          headers: { 'X-Auth-Token': auth.value.token, 'OpenStack-API-Version': `compute ${c.microversion}` },
          body: c.body,
          idempotent: c.idempotent,
          timeoutMs: c.timeoutMs,
          service: 'Nova',
          what: c.what,
        },
        this.sleep,
      );
      if (r.ok && r.value.status === 401 && this.keystone && attempt === 0) {
        this.keystone.invalidate(auth.value.token);
        continue;
      }
      return r;
    }
  }

  private async authFor(): Promise<Outcome<{ endpoint: string; token: string }>> {
    const o = this.options;
    if (o.auth.type === 'noauth') return ok({ endpoint: stripSlash(o.endpoint!), token: `${o.auth.user}:${o.auth.project}` });
    const t = await this.keystone!.token();
    if (!t.ok) return t;
    const endpoint = o.endpoint ?? t.value.endpointUrl;
    if (!endpoint) {
      return failed(`Keystone's catalog has no compute endpoint with interface ${o.interface}${o.region ? ` in region ${short(o.region)}` : ''}; set endpoint`, true);
    }
    return ok({ endpoint: stripSlash(endpoint), token: t.value.value });
  }
}

const validId = (s: string): boolean => s.length > 0 && s.length <= MAX_ID;
const stripSlash = (u: string): string => u.replace(/\/+$/, '');

/** Where an answer did not have the expected shape, e.g. `servers.3.flavor.vcpus: expected number`. */
function issueAt(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? short(`${i.path.join('.') || 'body'}: ${i.message}`) : 'body';
}

function markerOf(href: string): string | null {
  try {
    return new URL(href).searchParams.get('marker');
  } catch {
    return null;
  }
}
