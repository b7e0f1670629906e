import type { Wattplace } from '../decision';
import { NotFoundError, ValidationError, type PowerModelSpec } from '../domain';
import type * as pb from '../gen/wattplace/v1/wattplace';
import { powerSpecToPb } from './convert';


/** GetPowerModel: declared vs learned curve of one host (src/telemetry/learned). */
export function getPowerModel(core: Wattplace, req: pb.GetPowerModelRequest): pb.GetPowerModelResponse {
  if (!req.hostId) throw new ValidationError('host_id', 'required');
  const d = core.learned.describe(req.hostId, req.refit);
  if (!d) {
    const i = core.store.hostIndex(req.hostId);
    if (i < 0) throw new NotFoundError('host', req.hostId);
    // Registered, learned models off: the declared model only.
    const spec = core.collector.refresh().specs[i];
    return {
      hostId: req.hostId,
      declared: powerSpecToPb(spec.power),
      learned: undefined,
      learnedTableWatts: [],
      quality: undefined,
      inUse: false,
      reason: 'learned models are off',
      fittedAt: undefined,
      windowSamples: 0,
    };
  }
  const q = d.fit?.quality;
  return {
    hostId: d.hostId,
    declared: powerSpecToPb(d.declared),
    learned: d.fit ? powerSpecToPb(d.fit.spec) : undefined,
    learnedTableWatts: d.fit ? [...d.fit.table] : [],
    quality: q
      ? { samples: q.n, inliers: q.inliers, outliers: q.outliers, rSquared: q.r2, rmseWatts: q.rmse, utilP5: q.utilP5, utilP95: q.utilP95 }
      : undefined,
    inUse: d.inUse,
    reason: d.reason,
    fittedAt: d.fittedAtMs !== undefined ? new Date(d.fittedAtMs) : undefined,
    windowSamples: d.windowSamples,
  };
}
