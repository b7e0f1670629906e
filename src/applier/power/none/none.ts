import { done, ok, type Outcome, type PowerDriver, type PowerStatus } from '../../ports';

/**
 * Driver `none`, for clouds whose host power is managed elsewhere (a separate
 * power manager, or hosts that stay on): the applier only disables and enables
 * the host's nova-compute service. `status` is `unmanaged` for every host, so
 * the applier never waits for a power change it cannot see; `on` and `off`
 * accept and do nothing. No protocol: nothing leaves the process.
 */
export class NoPowerDriver implements PowerDriver {
  readonly kind = 'none' as const;

  status(_hostId: string): Promise<Outcome<PowerStatus>> {
    return Promise.resolve(ok('unmanaged'));
  }

  on(_hostId: string): Promise<Outcome> {
    return Promise.resolve(done);
  }

  off(_hostId: string): Promise<Outcome> {
    return Promise.resolve(done);
  }
}
