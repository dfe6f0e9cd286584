import type { GpuInventory } from '../../../../lib/protocol/agent';
import { type AgentLog, errorMessage, OnceLog } from '../../log';
import {
  CounterDeltas,
  emptyHealth,
  type GpuHealth,
  type GpuReading,
  type GpuReadingSource,
  GpuSampleBuilder,
  uniqueGpuUuids,
} from '../gpu-reading';
import type { TelemetrySample } from '../source';
import { type RunCommand, runCommand, splitCommandLine } from './command';
import { cellOf, countOf, flagOf, parseQueryCsv, type QueryRow, quantityIn, textOf } from './query-csv';
import { FALLBACK_FIELDS, fieldsToQuery, QueryFieldCatalog } from './query-fields';

export const DEFAULT_NVIDIA_SMI_COMMAND = 'nvidia-smi';

export type NvidiaSmiSourceOptions = {
  /** A command line, e.g. `nvidia-smi` or `ssh gpu-7 nvidia-smi`; split into argv, run without a shell. */
  command?: string;
  log: AgentLog;
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** After a failed `--help-query-gpu`, how long to use the fallback fields before asking again. */
  rediscoverAfterMs?: number;
  /** The command's environment (default: the agent's own). */
  env?: NodeJS.ProcessEnv;
  run?: RunCommand;
  now?: () => number;
};

/** Health fields kept as they were read, beside the typed ones in GpuHealth. */
const HEALTH_FIELDS = [
  'pci.bus_id',
  'mig.mode.current',
  'ecc.mode.current',
  'ecc.errors.uncorrected.volatile.total',
  'ecc.errors.uncorrected.aggregate.total',
  'retired_pages.single_bit_ecc.count',
  'retired_pages.double_bit.count',
  'retired_pages.pending',
  'remapped_rows.correctable',
  'remapped_rows.uncorrectable',
  'remapped_rows.pending',
  'remapped_rows.failure',
];

/**
 * GPUs read with `nvidia-smi --query-gpu`. The fields this driver knows are discovered once
 * from `--help-query-gpu` and only those are asked for (an unknown field fails the whole
 * query). Each physical GPU is one GPU, MIG or not: `--query-gpu` lists physical GPUs, and
 * the MIG mode is kept in gpuHealth(). nvidia-smi has no XID counter, so xidErrors stays
 * null here (0 on the wire) unless another collector fills it in.
 */
export class NvidiaSmiSource implements GpuReadingSource {
  readonly kind = 'nvidia-smi';
  readonly cumulative = true;
  private readonly argv: string[];
  private readonly log: AgentLog;
  private readonly once: OnceLog;
  private readonly builder: GpuSampleBuilder;
  private readonly run: RunCommand;
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;
  private readonly rediscoverAfterMs: number;
  private readonly now: () => number;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly eccDeltas = new CounterDeltas();
  private discovered: string[] | null = null;
  private discovering: Promise<string[]> | null = null;
  /** Resolves aliases in the CSV header; unknown until discovery succeeds. */
  private catalog: QueryFieldCatalog | undefined;
  private discoveryFailedAt = 0;
  private health = new Map<string, GpuHealth>();

  constructor(options: NvidiaSmiSourceOptions) {
    this.argv = splitCommandLine(options.command ?? DEFAULT_NVIDIA_SMI_COMMAND);
    this.log = options.log;
    this.once = new OnceLog(options.log);
    this.builder = new GpuSampleBuilder(options.log, 'nvidia-smi');
    this.run = options.run ?? runCommand;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxOutputBytes = options.maxOutputBytes ?? 4 * 1024 * 1024;
    this.rediscoverAfterMs = options.rediscoverAfterMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.env = options.env;
  }

  async inventory(): Promise<GpuInventory[]> {
    return this.builder.inventory(await this.query());
  }

  async sample(): Promise<TelemetrySample> {
    return { gpus: this.builder.samples(await this.readGpus()), deployments: [] };
  }

  applyAssignments(): void {}

  async readGpus(): Promise<GpuReading[]> {
    const readings = await this.query();
    return readings.map((reading) => ({
      ...reading,
      eccErrors: this.eccDeltas.delta(
        reading.uuid,
        this.health.get(reading.uuid)?.eccUncorrected.volatileTotal ?? null,
      ),
    }));
  }

  /** The latest health fields per GPU UUID, from the last successful query. */
  gpuHealth(): Map<string, GpuHealth> {
    return new Map(this.health);
  }

  /** The fields to request: discovered once, or the fallback set while discovery fails. */
  private fields(): Promise<string[]> | string[] {
    if (this.discovered) return this.discovered;
    if (this.discovering) return this.discovering;
    if (this.discoveryFailedAt !== 0 && this.now() - this.discoveryFailedAt < this.rediscoverAfterMs) {
      return [...FALLBACK_FIELDS];
    }
    this.discovering = this.discover().finally(() => {
      this.discovering = null;
    });
    return this.discovering;
  }

  private async discover(): Promise<string[]> {
    try {
      const { stdout } = await this.run([...this.argv, '--help-query-gpu'], this.options());
      const catalog = QueryFieldCatalog.fromHelp(stdout);
      const fields = fieldsToQuery(catalog);
      if (!fields.includes('index') || !fields.includes('uuid')) {
        throw new Error(`--help-query-gpu listed ${catalog.size} fields, without index and uuid`);
      }
      this.catalog = catalog;
      this.discovered = fields;
      this.log.info(`nvidia-smi: the driver knows ${catalog.size} query fields; asking for ${fields.length}`);
      return fields;
    } catch (error) {
      this.discoveryFailedAt = this.now();
      this.log.warn(
        `nvidia-smi: cannot list the driver's query fields (${errorMessage(error)}); asking for ${FALLBACK_FIELDS.join(',')}`,
      );
      return [...FALLBACK_FIELDS];
    }
  }

  private options() {
    return { timeoutMs: this.timeoutMs, maxOutputBytes: this.maxOutputBytes, env: this.env };
  }

  private async query(): Promise<GpuReading[]> {
    const fields = await this.fields();
    const { stdout } = await this.run(
      [...this.argv, `--query-gpu=${fields.join(',')}`, '--format=csv'],
      this.options(),
    );
    const rows = parseQueryCsv(stdout, this.catalog).filter((row, position) => {
      // A line that names no GPU is a message nvidia-smi mixed into its output, not a GPU.
      const gpu = cellOf(row, 'index') !== undefined || cellOf(row, 'uuid', 'gpu_uuid') !== undefined;
      if (!gpu) {
        const said = [...row.values()][0]?.text ?? '';
        this.once.warn(`row ${position}`, `nvidia-smi: ignoring an output line that is not a GPU: ${said}`);
      }
      return gpu;
    });
    const indexed = rows.map((row, position) => ({ row, index: countOf(cellOf(row, 'index')) ?? position }));
    const { uuids, rewritten } = uniqueGpuUuids(
      indexed.map(({ row, index }) => ({ index, uuid: textOf(cellOf(row, 'uuid', 'gpu_uuid')) })),
    );
    if (rewritten) {
      this.once.warn(
        'uuids',
        'nvidia-smi: GPU UUIDs are masked or repeated; identifying those GPUs as <uuid>-<index> instead',
      );
    }
    const health = new Map<string, GpuHealth>();
    const readings = indexed.map(({ row, index }, i) => {
      const uuid = uuids[i] as string;
      health.set(uuid, healthOf(row, index, uuid));
      return readingOf(row, index, uuid);
    });
    this.health = health;
    return readings;
  }
}

function readingOf(row: QueryRow, index: number, uuid: string): GpuReading {
  return {
    index,
    uuid,
    name: textOf(cellOf(row, 'name', 'gpu_name')),
    utilizationPct: quantityIn(cellOf(row, 'utilization.gpu'), '%'),
    memoryUsedMiB: quantityIn(cellOf(row, 'memory.used'), 'MiB'),
    memoryTotalMiB: quantityIn(cellOf(row, 'memory.total'), 'MiB'),
    powerW: quantityIn(cellOf(row, 'power.draw', 'power.draw.instant', 'power.draw.average'), 'W'),
    temperatureC: quantityIn(cellOf(row, 'temperature.gpu'), 'C'),
    smClockMHz: quantityIn(cellOf(row, 'clocks.current.sm', 'clocks.sm'), 'MHz'),
    xidErrors: null,
    // Filled in by readGpus(), which keeps the previous cumulative count.
    eccErrors: null,
    remappedRowsPending: flagOf(cellOf(row, 'remapped_rows.pending')),
    remappedRowsFailed: flagOf(cellOf(row, 'remapped_rows.failure')),
  };
}

function healthOf(row: QueryRow, index: number, uuid: string): GpuHealth {
  const health = emptyHealth(index, uuid);
  health.migMode = textOf(cellOf(row, 'mig.mode.current'));
  health.eccMode = textOf(cellOf(row, 'ecc.mode.current'));
  health.retiredPages = {
    singleBitEcc: countOf(cellOf(row, 'retired_pages.single_bit_ecc.count', 'retired_pages.sbe')),
    doubleBit: countOf(cellOf(row, 'retired_pages.double_bit.count', 'retired_pages.dbe')),
    pending: flagOf(cellOf(row, 'retired_pages.pending')),
  };
  health.remappedRows = {
    correctable: countOf(cellOf(row, 'remapped_rows.correctable', 'remapped_rows.sbe')),
    uncorrectable: countOf(cellOf(row, 'remapped_rows.uncorrectable', 'remapped_rows.dbe')),
    pending: flagOf(cellOf(row, 'remapped_rows.pending')),
    failure: flagOf(cellOf(row, 'remapped_rows.failure')),
  };
  health.eccUncorrected = {
    volatileTotal: countOf(cellOf(row, 'ecc.errors.uncorrected.volatile.total')),
    aggregateTotal: countOf(cellOf(row, 'ecc.errors.uncorrected.aggregate.total')),
  };
  for (const field of HEALTH_FIELDS) health.fields[field] = textOf(row.get(field));
  return health;
}
