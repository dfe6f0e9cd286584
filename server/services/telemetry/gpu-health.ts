import type { GpuSample } from '../../../lib/protocol/agent';
import type { Db } from '../../db/client';
import type { GpuHealth } from '../../generated/prisma/client';
import { logger } from '../../log';
import type { FleetCatalog } from '../fleet/catalog';

const log = logger('gpu-health');

/** A GPU stays degraded this long after its last XID or uncorrected ECC error. */
export const DEGRADED_HOLD_MS = 10 * 60_000;

/** The health a GPU's latest sample and recent errors call for (docs/agent-protocol.md §6). */
export function gpuHealthFrom(sample: GpuSample, lastErrorAt: number | undefined, now: number): GpuHealth {
  if (sample.remappedRowsFailed) return 'failed';
  if (sample.remappedRowsPending) return 'degraded';
  if (lastErrorAt !== undefined && now - lastErrorAt < DEGRADED_HOLD_MS) return 'degraded';
  return 'ok';
}

/**
 * Tracks GPU health from telemetry (XID, uncorrected ECC, row remapping) and writes
 * changes to Postgres in batches; the catalog sees them at once, so allocation and the
 * fleet view agree with what the agents report.
 */
export class GpuHealthMonitor {
  private lastErrorAt = new Map<string, number>();
  private pending = new Map<string, GpuHealth>();

  constructor(
    private readonly db: Db,
    private readonly catalog: FleetCatalog,
  ) {}

  observe(gpuIds: string[], samples: GpuSample[], now = Date.now()): void {
    samples.forEach((sample, i) => {
      const gpuId = gpuIds[i]!;
      if (sample.xidErrors > 0 || sample.eccErrors > 0) this.lastErrorAt.set(gpuId, now);
      const health = gpuHealthFrom(sample, this.lastErrorAt.get(gpuId), now);
      const gpu = this.catalog.gpus.get(gpuId);
      if (gpu && gpu.health !== health) {
        log.info(`GPU ${gpu.uuid}: ${gpu.health} → ${health}`);
        gpu.health = health;
        this.pending.set(gpuId, health);
      }
    });
  }

  async persist(): Promise<void> {
    if (this.pending.size === 0) return;
    const changes = this.pending;
    this.pending = new Map();
    try {
      await this.db.$executeRawUnsafe(
        `UPDATE "Gpu" AS g SET "health" = u.health::"GpuHealth", "updatedAt" = now()
         FROM unnest($1::text[], $2::text[]) AS u(id, health) WHERE g.id = u.id`,
        [...changes.keys()],
        [...changes.values()],
      );
    } catch (error) {
      log.error('persisting GPU health failed; will retry', error);
      for (const [id, health] of changes) if (!this.pending.has(id)) this.pending.set(id, health);
    }
  }
}
