/**
 * What the applier needs from the cloud it acts on, as small interfaces: Nova's
 * compute API (servers, compute services, live migration), a host's power
 * (IPMI, Ironic, or nothing), and leadership among replicas. The drivers that
 * talk to the real services live in one folder each (nova/, power/ipmi/,
 * power/ironic/, leader/); the simulator implements the same interfaces with a
 * simulated cloud, so it drives the very same applier logic.
 *
 * An expected refusal or failure (Nova answers 4xx, a BMC does not answer, a
 * timeout) is a value, an `Outcome` with a reason; drivers throw only for bugs.
 */
export type Outcome<T = void> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** Short, safe to log: never a credential, at most a short prefix of what the service said. */
      readonly reason: string;
      /** The service refused the call (HTTP 4xx): repeating the same call will not help. */
      readonly refused: boolean;
      /** HTTP status, when there was an answer. */
      readonly status?: number;
    };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const done: Outcome = { ok: true, value: undefined };
export const failed = (reason: string, refused = false, status?: number): Outcome<never> => ({ ok: false, reason, refused, status });

/** A Nova server as the applier needs it (`GET /servers/detail`, microversion ≥ 2.47: flavor embedded). */
export interface CloudServer {
  readonly id: string;
  readonly name: string;
  /** `OS-EXT-SRV-ATTR:host`; null while unscheduled. */
  readonly host: string | null;
  /** `status`: ACTIVE, BUILD, MIGRATING, ERROR, SHUTOFF, … */
  readonly status: string;
  /** `OS-EXT-STS:task_state`: null when idle, e.g. `migrating` during a live migration. */
  readonly taskState: string | null;
  readonly vcpus: number;
  readonly ramMb: number;
}

/** A nova-compute service (`GET /os-services?binary=nova-compute`, microversion ≥ 2.53: `id` is a UUID). */
export interface ComputeService {
  readonly id: string;
  readonly host: string;
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  readonly disabledReason: string | null;
  /** `updated_at`: the last heartbeat Nova recorded (ISO 8601, UTC), when it says. */
  readonly updatedAt: string | null;
}

/** A live migration record (`GET /os-migrations?instance_uuid=…&migration_type=live-migration`). */
export interface CloudMigration {
  readonly id: number;
  readonly serverId: string;
  /** queued, preparing, running, completed, error, failed, cancelled, … */
  readonly status: string;
  readonly sourceHost: string | null;
  readonly destHost: string | null;
}

export interface ComputeCloud {
  /** Every server of every project (admin, `all_tenants=1`); with `host`, only those on that host. */
  listServers(host?: string): Promise<Outcome<CloudServer[]>>;
  /** One server; null when Nova says 404. */
  getServer(id: string): Promise<Outcome<CloudServer | null>>;
  /** nova-compute services; with `host`, only that host's. */
  computeServices(host?: string): Promise<Outcome<ComputeService[]>>;
  /** Enables or disables a nova-compute service (by its UUID); `reason` only when disabling. */
  setServiceStatus(serviceId: string, enabled: boolean, reason?: string): Promise<Outcome>;
  /** `os-migrateLive` to the named target, `block_migration: auto`, at a microversion where Nova's scheduler checks the target. 202 = accepted, not done. */
  liveMigrate(serverId: string, targetHost: string): Promise<Outcome>;
  /** A server's live migrations, newest first. */
  migrations(serverId: string): Promise<Outcome<CloudMigration[]>>;
}

/** `unmanaged`: this driver neither sees nor controls the power (driver `none`); the host counts as running. */
export type PowerStatus = 'on' | 'off' | 'unmanaged';

/** A host's power: `ipmi` (its BMC), `ironic` (its bare-metal node), `none` (managed elsewhere: status `unmanaged`, on/off do nothing). */
export interface PowerDriver {
  readonly kind: 'ipmi' | 'ironic' | 'none';
  status(hostId: string): Promise<Outcome<PowerStatus>>;
  /** Asks for power on; returns once the request was accepted (poll `status` to see it happen). */
  on(hostId: string): Promise<Outcome>;
  /** Asks for power off (hard off: the host was emptied and checked first). */
  off(hostId: string): Promise<Outcome>;
}

/** Which replica may act. Placement needs none of this. */
export interface Leadership {
  /** True while this replica holds the lease and, by its own clock, it has not run out. */
  isLeader(): boolean;
  /** Campaigns and keeps renewing in the background until `close`. */
  start(): Promise<void>;
  /** Resigns (revokes the lease) and stops. */
  close(): Promise<void>;
  /** Called on every change of `isLeader()`, at the latest when `isLeader()` first returns the new value. */
  onChange(listener: (leader: boolean) => void): void;
  /** This replica's name in the election (host name and pid by default). */
  readonly identity: string;
  /** The current leader's identity as last seen, when known. */
  leaderIdentity(): string | null;
}
