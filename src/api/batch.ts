import { ValidationError, type Resources, type Workload } from '../domain';
import type * as pb from '../gen/wattplace/v1/wattplace';
import type { SolveStats } from '../solver/optimize';
import { placeBatch, type BatchDeps } from '../decision/batch';
import { planConsolidation } from '../decision/consolidation';

/** int64 from the wire → safe number, naming the field when it is not. */
function count(v: bigint | undefined, field: string): number {
  const b = v ?? 0n;
  if (b < 0n) throw new ValidationError(field, `must be ≥ 0, got ${b}`);
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new ValidationError(field, `too large: ${b}`);
  return Number(b);
}

function workload(w: pb.Workload | undefined, field: string): Workload {
  if (!w) throw new ValidationError(field, 'required');
  if (!w.demand) throw new ValidationError(`${field}.demand`, 'required');
  const demand = { cpuMillis: count(w.demand.cpuMillis, `${field}.demand.cpu_millis`), memBytes: count(w.demand.memBytes, `${field}.demand.mem_bytes`) } as Resources;
  return { id: w.id, demand, selector: { ...w.selector } };
}

function stats(s: SolveStats): pb.SolveStats {
  return {
    objectiveWatts: Number.isFinite(s.objective) ? s.objective : 0,
    lowerBoundWatts: Number.isFinite(s.bound) ? s.bound : 0,
    gap: Number.isFinite(s.gap) ? s.gap : 0,
    method: s.method,
    elapsedMs: Math.max(0, Math.round(s.elapsedMs)),
  };
}

/**
 * The PlaceBatch and PlanConsolidation handlers for PlacementService
 * (ExtraPlacementHandlers in src/api/grpc.ts): wire messages ↔ the decision
 * functions. Errors are domain errors; the gRPC wrapper maps them to status codes.
 */
export function batchHandlers(deps: BatchDeps) {
  return {
    placeBatch: async (req: pb.PlaceBatchRequest): Promise<pb.PlaceBatchResponse> => {
      const ws = req.workloads.map((w, i) => workload(w, `workloads[${i}]`));
      const r = await placeBatch(deps, ws, req.timeBudgetMs);
      return {
        assignments: r.assignments.map((a) => ({ workloadId: a.workloadId, hostId: a.hostId })),
        reservationIds: r.assignments.map((a) => a.reservationId),
        unplaced: r.unplaced.map((u) => ({ hostId: u.hostId, reason: u.reason })),
        stats: stats(r.stats),
        standbyHostIds: r.standbyHostIds,
      };
    },
    planConsolidation: async (req: pb.PlanConsolidationRequest): Promise<pb.PlanConsolidationResponse> => {
      const running = req.running.map((r, i) => ({ workload: workload(r.workload, `running[${i}].workload`), hostId: r.hostId }));
      const r = await planConsolidation(deps, { running, maxMigrations: req.maxMigrations, timeBudgetMs: req.timeBudgetMs, hostIds: req.hostIds });
      return {
        migrations: r.migrations.map((m) => ({ workloadId: m.workloadId, sourceHostId: m.sourceHostId, targetHostId: m.targetHostId, reason: m.reason, enablesHostId: m.enablesHostId })),
        standbyHostIds: r.standbyHostIds,
        wattsBefore: r.wattsBefore,
        wattsAfter: r.wattsAfter,
        stats: stats(r.stats),
        unorderedTargetMoves: r.unorderedTargetMoves.map((m) => ({ workloadId: m.workloadId, sourceHostId: m.sourceHostId, targetHostId: m.targetHostId, reason: m.reason, enablesHostId: m.enablesHostId })),
        dropped: r.dropped,
        hostsOn: r.hostsOn,
        targetHostsOn: r.targetHostsOn,
      };
    },
  };
}
