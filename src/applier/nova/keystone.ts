import * as fs from 'node:fs';
import { z } from 'zod';
import { failed, ok, type Outcome } from '../ports';
import { httpJson, serviceMessage, type HttpPolicy, type Sleep } from './http';

/**
 * Keystone v3 tokens for the Nova client and the Ironic power driver.
 *
 * Protocol (sources: Keystone API v3 reference "Authentication and token
 * management", `POST /v3/auth/tokens`; ../shared/reference/openstack-actuation.md):
 * - Password: `{"auth": {"identity": {"methods": ["password"], "password":
 *   {"user": {"name", "domain": {"name"}, "password"}}}, "scope": {"project":
 *   {"name", "domain": {"name"}}}}}` (ids instead of names where given).
 * - Application credential: `{"auth": {"identity": {"methods":
 *   ["application_credential"], "application_credential": {"id", "secret"}}}}`
 *   (no scope: the credential carries its project and roles).
 * - 201 Created; the token is the `X-Subject-Token` header, its expiry
 *   `token.expires_at` (ISO 8601), the endpoints `token.catalog[]`
 *   (`type: compute` for Nova, `baremetal` for Ironic; `endpoints[]` with
 *   `interface`, `region_id`/`region`, `url`).
 * - A 401 from the service means the token was revoked or expired early: drop it,
 *   get a new one, repeat the call once.
 * The secret is read from its file at every token request (so a rotated
 * secret is picked up) and never appears in a reason.
 */
const Name = z.string().min(1).max(255);

export const KeystonePasswordSchema = z
  .object({
    type: z.literal('password'),
    /** Keystone's root, e.g. `https://keystone.example:5000` (with or without `/v3`). */
    authUrl: z.string().url().max(2048),
    username: Name,
    userDomainName: Name.default('Default'),
    /** First line of this file is the password. */
    passwordFile: z.string().min(1).max(4096),
    projectName: Name.optional(),
    projectId: Name.optional(),
    projectDomainName: Name.default('Default'),
  })
  .strict()
  .refine((a) => a.projectName !== undefined || a.projectId !== undefined, { message: 'projectName or projectId is required', path: ['projectName'] });

export const KeystoneAppCredentialSchema = z
  .object({
    type: z.literal('applicationCredential'),
    authUrl: z.string().url().max(2048),
    applicationCredentialId: Name,
    /** First line of this file is the application credential's secret. */
    secretFile: z.string().min(1).max(4096),
  })
  .strict();

/**
 * The settings every OpenStack API client of the applier shares (Nova's, Ironic's): which catalog
 * endpoint, the per-attempt deadline, retries with back-off, and the token's renewal margin.
 */
export const OPENSTACK_CLIENT_FIELDS = {
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  region: z.string().min(1).max(255).optional(),
  /** Deadline of one attempt (ms). */
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** Extra attempts after a 5xx or connection error. */
  retries: z.number().int().min(0).max(10).default(3),
  backoffMs: z.number().int().min(1).max(60_000).default(500),
  backoffMaxMs: z.number().int().min(1).max(600_000).default(8_000),
  /** Renew the Keystone token this long before it expires (ms). */
  tokenRenewMarginMs: z.number().int().min(0).max(3_600_000).default(60_000),
};

/** Without Keystone there is no catalog: the endpoint must be given. */
export const NOAUTH_NEEDS_ENDPOINT: [(o: { auth: { type: string }; endpoint?: string }) => boolean, { message: string; path: string[] }] = [
  (o) => o.auth.type !== 'noauth' || o.endpoint !== undefined,
  { message: 'endpoint is required with auth type noauth', path: ['endpoint'] },
];

export type KeystoneAuth = z.infer<typeof KeystonePasswordSchema> | z.infer<typeof KeystoneAppCredentialSchema>;

export interface CatalogChoice {
  /** The catalog's service type whose endpoint the token carries: `compute`, `baremetal`. */
  readonly serviceType: string;
  /** Endpoint interface (default `public`, as openstack clients). */
  readonly interface: 'public' | 'internal' | 'admin';
  readonly region?: string;
}

export interface Token {
  readonly value: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  /** The endpoint of the chosen service type from the catalog, when it lists one that matches. */
  readonly endpointUrl: string | null;
}

const TokenBody = z.object({
  token: z.object({
    expires_at: z.string(),
    catalog: z
      .array(
        z.object({
          type: z.string(),
          endpoints: z.array(z.object({ interface: z.string(), url: z.string(), region: z.string().nullish(), region_id: z.string().nullish() })),
        }),
      )
      .optional(),
  }),
});

/** Longest secret read from a file; a credential is far shorter. */
const MAX_SECRET = 4096;

export class KeystoneSession {
  private current: Token | null = null;
  private pending: Promise<Outcome<Token>> | null = null;

  constructor(
    private readonly auth: KeystoneAuth,
    private readonly catalog: CatalogChoice,
    private readonly policy: HttpPolicy,
    /** Renew this long before the token's expiry (ms). */
    private readonly renewMarginMs: number,
    private readonly sleep?: Sleep,
    private readonly now: () => number = Date.now,
  ) {}

  /** A valid token: the cached one unless it is within the margin of expiry; one request at a time. */
  async token(): Promise<Outcome<Token>> {
    const t = this.current;
    if (t && t.expiresAt - this.renewMarginMs > this.now()) return ok(t);
    this.pending ??= this.issue().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Drops `token` (the service said 401 to it) so the next `token()` asks Keystone again. */
  invalidate(token: string): void {
    if (this.current?.value === token) this.current = null;
  }

  private async issue(): Promise<Outcome<Token>> {
    const secret = readSecret(this.auth.type === 'password' ? this.auth.passwordFile : this.auth.secretFile);
    if (!secret.ok) return secret;
    const a = this.auth;
    const body =
      a.type === 'password'
        ? {
            auth: {
              identity: { methods: ['password'], password: { user: { name: a.username, domain: { name: a.userDomainName }, password: secret.value } } },
              scope: { project: a.projectId !== undefined ? { id: a.projectId } : { name: a.projectName, domain: { name: a.projectDomainName } } },
            },
          }
        : { auth: { identity: { methods: ['application_credential'], application_credential: { id: a.applicationCredentialId, secret: secret.value } } } };
    const url = `${a.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3/auth/tokens`;
    const r = await httpJson(this.policy, { method: 'POST', url, body, idempotent: true, service: 'Keystone', what: 'POST /v3/auth/tokens' }, this.sleep);
    if (!r.ok) return r;
    const { status, headers } = r.value;
    if (status !== 201 && status !== 200) {
      const who = a.type === 'password' ? `user ${a.username}` : `application credential ${a.applicationCredentialId}`;
      return failed(`Keystone refused the credentials of ${who}: ${status} ${serviceMessage(r.value.body)}`.trim(), true, status);
    }
    const value = headers.get('x-subject-token');
    const parsed = TokenBody.safeParse(r.value.body);
    const expiresAt = parsed.success ? Date.parse(parsed.data.token.expires_at) : NaN;
    if (!value || !parsed.success || !Number.isFinite(expiresAt)) {
      return failed('Keystone POST /v3/auth/tokens: answer without X-Subject-Token or token.expires_at', false, status);
    }
    const token: Token = { value, expiresAt, endpointUrl: this.endpointUrl(parsed.data.token.catalog ?? []) };
    this.current = token;
    return ok(token);
  }

  private endpointUrl(catalog: z.infer<typeof TokenBody>['token']['catalog'] & object): string | null {
    for (const service of catalog) {
      if (service.type !== this.catalog.serviceType) continue;
      const e = service.endpoints.find(
        (x) => x.interface === this.catalog.interface && (this.catalog.region === undefined || x.region_id === this.catalog.region || x.region === this.catalog.region),
      );
      if (e) return e.url.replace(/\/+$/, '');
    }
    return null;
  }
}

function readSecret(file: string): Outcome<string> {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_SECRET);
      const n = fs.readSync(fd, buf, 0, MAX_SECRET, 0);
      const line = buf.subarray(0, n).toString('utf8').split(/\r?\n/)[0];
      if (!line) return failed(`credential file ${file} is empty`, true);
      return ok(line);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return failed(`credential file ${file} is not readable`, true);
  }
}
