import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZInventory, ZTelemetryFrame } from '../../../../../lib/protocol/agent';
import type { AgentLog } from '../../../log';
import { buildTelemetryFrame } from '../../../telemetry-frame';
import { splitCommandLine } from '../command';
import { NvidiaSmiSource } from '../nvidia-smi-source';

const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
/** Real captures (read-only, beside the repository); new ones dropped there are tested too. */
const SHARED_CAPTURES =
  process.env.SWITCHYARD_NVIDIA_SMI_CAPTURES ?? join(REPO_ROOT, '..', 'shared', 'fixtures', 'nvidia-smi');
/** Multi-GPU cases the real captures lack (see the file's header). */
const LOCAL_CAPTURES = fileURLToPath(new URL('../__fixtures__/', import.meta.url));
const FAKE_NVIDIA_SMI = fileURLToPath(new URL('./fake-nvidia-smi.mjs', import.meta.url));
const FAKE_COMMAND = `${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_NVIDIA_SMI)}`;

const capturesIn = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.txt'))
        .sort()
        .map((name) => join(dir, name))
    : [];
const sharedCaptures = capturesIn(SHARED_CAPTURES);
const captures = [...sharedCaptures, ...capturesIn(LOCAL_CAPTURES)];
const captureOf = (name: string) => captures.find((path) => basename(path).includes(name)) as string;

class MemoryLog implements AgentLog {
  readonly lines: string[] = [];
  info(message: string) {
    this.lines.push(`info ${message}`);
  }
  warn(message: string) {
    this.lines.push(`warn ${message}`);
  }
  error(message: string) {
    this.lines.push(`error ${message}`);
  }
  warnings(): string[] {
    return this.lines.filter((line) => line.startsWith('warn'));
  }
}

// --- An independent, deliberately simple reading of a capture's CSV -----------------------

type CaptureRow = Record<string, string>;

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) {
      cells.push(current.trim());
      current = '';
    } else current += char;
  }
  cells.push(current.trim());
  return cells;
}

/** The rows of `<section> :: query-gpu`, keyed by header name without its unit. */
function captureRows(capture: string, section: 'idle' | 'load'): CaptureRow[] {
  const lines = readFileSync(capture, 'utf8').split(/\r?\n/);
  const isRule = (line: string | undefined) => /^#{20,}/.test(line ?? '');
  let i = lines.findIndex((line, n) => isRule(lines[n - 1]) && line.startsWith(`# ${section} :: query-gpu`));
  expect(i, `${basename(capture)} has a ${section} query-gpu section`).toBeGreaterThan(0);
  while (!isRule(lines[i])) i++;
  const body: string[] = [];
  for (i++; i < lines.length && !isRule(lines[i]); i++) if (lines[i]?.trim()) body.push(lines[i] as string);
  const [header = [], ...rows] = body.map(splitCsvLine);
  const names = header.map((cell) => cell.replace(/\s*\[[^\]]*\]$/, ''));
  return rows.map((row) => Object.fromEntries(names.map((name, j) => [name, row[j] ?? ''])));
}

/** `612.34 W` → 612.34; `[N/A]`, `N/A`, `[Not Supported]` → null. */
function number(text: string | undefined): number | null {
  if (text === undefined || text.startsWith('[') || text === 'N/A' || text === '') return null;
  return Number.parseFloat(text);
}

function expected(row: CaptureRow) {
  return {
    utilizationPct: number(row['utilization.gpu']) ?? 0,
    memoryUsedMiB: number(row['memory.used']) ?? 0,
    memoryTotalMiB: number(row['memory.total']) ?? 0,
    powerW:
      number(row['power.draw']) ?? number(row['power.draw.instant']) ?? number(row['power.draw.average']),
    name: row.name ?? '',
  };
}

// --- The collector against the fake nvidia-smi -----------------------------------------------

function collector(capture: string, section: 'idle' | 'load', env: Record<string, string> = {}) {
  const log = new MemoryLog();
  const processEnv: NodeJS.ProcessEnv = {
    ...process.env,
    FAKE_NVIDIA_SMI_CAPTURE: capture,
    FAKE_NVIDIA_SMI_SECTION: section,
    ...env,
  };
  const source = new NvidiaSmiSource({ command: FAKE_COMMAND, log, env: processEnv });
  return { source, log, env: processEnv };
}

async function frameFrom(source: NvidiaSmiSource) {
  const built = buildTelemetryFrame(1, 1000, await source.sample());
  expect(built.success, built.success ? '' : built.error.message).toBe(true);
  return ZTelemetryFrame.parse(built.data);
}

describe('nvidia-smi captures', () => {
  it('finds the shared captures', () => {
    expect(sharedCaptures.length, `captures in ${SHARED_CAPTURES}`).toBeGreaterThan(0);
  });

  describe.each(captures.map((path) => [basename(path), path]))('%s', (_name, capture) => {
    it.each(['idle', 'load'] as const)('reads the %s query like the capture says', async (section) => {
      const rows = captureRows(capture, section);
      const { source, log } = collector(capture, section);
      const frame = await frameFrom(source);

      expect(frame.gpus).toHaveLength(rows.length);
      expect(new Set(frame.gpus.map((gpu) => gpu.uuid)).size).toBe(rows.length);
      rows.forEach((row, i) => {
        const want = expected(row);
        const gpu = frame.gpus[i];
        expect(gpu?.utilizationPct).toBe(want.utilizationPct);
        expect(gpu?.memoryUsedMiB).toBe(want.memoryUsedMiB);
        expect(gpu?.memoryTotalMiB).toBe(want.memoryTotalMiB);
        expect(gpu?.powerW).toBe(want.powerW);
      });

      const inventory = await source.inventory();
      ZInventory.parse({ protocolVersion: 1, hostname: 'gpu-node', agentVersion: 'test', gpus: inventory });
      expect(inventory.map((gpu) => gpu.uuid)).toEqual(frame.gpus.map((gpu) => gpu.uuid));
      expect(inventory.map((gpu) => gpu.name)).toEqual(
        rows.map((row) => expected(row).name.replace(/^"|"$/g, '')),
      );
      expect(inventory.map((gpu) => gpu.memoryTotalMiB)).toEqual(
        rows.map((row) => expected(row).memoryTotalMiB),
      );
      expect(log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
    });

    it('shows the load run busier than the idle one', async () => {
      const idle = await frameFrom(collector(capture, 'idle').source);
      const load = await frameFrom(collector(capture, 'load').source);
      // Utilization is the brief's measure, but the L40S capture was taken with its idle
      // run at 100 % (a job still finishing) and 9 % under load, while memory in use rose
      // from 0 to 1235 MiB; either sign of work counts.
      const busier = load.gpus.some((gpu, i) => {
        const before = idle.gpus[i];
        return (
          before !== undefined &&
          (gpu.utilizationPct >= before.utilizationPct || gpu.memoryUsedMiB > before.memoryUsedMiB)
        );
      });
      expect(busier).toBe(true);
      const utilizationHeld = load.gpus.some(
        (gpu, i) => gpu.utilizationPct >= (idle.gpus[i]?.utilizationPct ?? 0),
      );
      if (!basename(capture).includes('l40s')) expect(utilizationHeld).toBe(true);
    });
  });
});

describe('NvidiaSmiSource', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'switchyard-nvidia-smi-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('asks only for fields the driver lists, and still builds a valid frame', async () => {
    const calls = join(scratch, 'calls-hidden.jsonl');
    const { source } = collector(captureOf('h100'), 'load', {
      FAKE_NVIDIA_SMI_HIDE_FIELDS: 'clocks.current.sm,power.draw.instant',
      FAKE_NVIDIA_SMI_CALLS: calls,
    });
    const frame = await frameFrom(source);
    expect(frame.gpus[0]?.smClockMHz).toBeNull();
    expect(frame.gpus[0]?.utilizationPct).toBe(100);

    const asked = (await readFile(calls, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[]);
    expect(asked[0]).toEqual(['--help-query-gpu']);
    const query = asked.find((args) => args[0]?.startsWith('--query-gpu='))?.[0] ?? '';
    const fields = query.slice('--query-gpu='.length).split(',');
    expect(fields).not.toContain('clocks.sm');
    expect(fields).not.toContain('clocks.current.sm');
    expect(fields).not.toContain('power.draw.instant');
    expect(fields).toContain('utilization.gpu');
    // Discovery happens once, not per sample.
    await source.sample();
    const again = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(again.filter((line) => line.includes('--help-query-gpu'))).toHaveLength(1);
  });

  it('falls back to a minimal field set when the help cannot be read', async () => {
    const { source, log } = collector(captureOf('h100'), 'load', { FAKE_NVIDIA_SMI_HELP_FAILS: '1' });
    const frame = await frameFrom(source);
    expect(frame.gpus[0]).toMatchObject({ utilizationPct: 100, memoryUsedMiB: 19818, smClockMHz: 1980 });
    expect(log.warnings().some((line) => line.includes('cannot list the driver'))).toBe(true);
  });

  it('makes masked, repeated UUIDs unique per index and says so once', async () => {
    const { source, log } = collector(captureOf('synthetic-4x'), 'load');
    const frame = await frameFrom(source);
    await source.sample();
    expect(frame.gpus.map((gpu) => gpu.uuid)).toEqual(
      [0, 1, 2, 3].map((i) => `GPU-00000000-0000-0000-0000-000000000000-${i}`),
    );
    expect(log.warnings().filter((line) => line.includes('masked or repeated'))).toHaveLength(1);
    const inventory = await source.inventory();
    expect(inventory[1]?.name).toBe('NVIDIA H100 80GB HBM3, SXM5');
  });

  it('sends 0 for an unsupported utilization, warning once per field', async () => {
    const { source, log } = collector(captureOf('h200-mig'), 'load');
    const first = await frameFrom(source);
    await frameFrom(source);
    expect(first.gpus[0]?.utilizationPct).toBe(0);
    expect(first.gpus[0]?.memoryUsedMiB).toBe(16959);
    expect(log.warnings().filter((line) => line.includes('utilizationPct'))).toHaveLength(1);
  });

  it('keeps health fields per GPU, including the MIG mode', async () => {
    const { source } = collector(captureOf('h200-mig'), 'load');
    const frame = await frameFrom(source);
    const health = source.gpuHealth().get(frame.gpus[0]?.uuid ?? '');
    expect(health).toMatchObject({ index: 0, migMode: 'Enabled', eccMode: 'Enabled' });
    expect(health?.eccUncorrected).toEqual({ volatileTotal: 0, aggregateTotal: 0 });
    expect(health?.fields['pci.bus_id']).toBe('00000000:83:00.0');

    const h100 = collector(captureOf('h100'), 'load').source;
    const h100Frame = await frameFrom(h100);
    expect(h100.gpuHealth().get(h100Frame.gpus[0]?.uuid ?? '')?.remappedRows).toEqual({
      correctable: 0,
      uncorrectable: 0,
      pending: false,
      failure: false,
    });
  });

  it('reports uncorrected ECC errors per interval, and pending row remapping', async () => {
    // The synthetic capture's GPU 2 has 2 volatile uncorrected errors idle and 5 under load.
    const { source, env } = collector(captureOf('synthetic-4x'), 'idle');
    const baseline = await frameFrom(source);
    expect(baseline.gpus.map((gpu) => gpu.eccErrors)).toEqual([0, 0, 0, 0]);
    expect(baseline.gpus.map((gpu) => gpu.remappedRowsPending)).toEqual([false, false, true, false]);
    env.FAKE_NVIDIA_SMI_SECTION = 'load';
    expect((await frameFrom(source)).gpus.map((gpu) => gpu.eccErrors)).toEqual([0, 0, 3, 0]);
    expect((await frameFrom(source)).gpus.map((gpu) => gpu.eccErrors)).toEqual([0, 0, 0, 0]);
    // Back to 2: the counter was reset (driver reload), so all 2 are new.
    env.FAKE_NVIDIA_SMI_SECTION = 'idle';
    expect((await frameFrom(source)).gpus.map((gpu) => gpu.eccErrors)).toEqual([0, 0, 2, 0]);
  });

  it('uses power.draw.instant where power.draw is not supported', async () => {
    const frame = await frameFrom(collector(captureOf('synthetic-4x'), 'load').source);
    expect(frame.gpus[3]?.powerW).toBe(512.25);
  });

  it('fails a sample with the command’s own message when it cannot run', async () => {
    const missing = new NvidiaSmiSource({ command: '/nonexistent/nvidia-smi', log: new MemoryLog() });
    await expect(missing.sample()).rejects.toThrow(/nonexistent\/nvidia-smi: not found/);

    const hanging = new NvidiaSmiSource({
      // `--` hands the collector's arguments to the script instead of to node.
      command: `${JSON.stringify(process.execPath)} -e "setTimeout(() => {}, 10000)" --`,
      log: new MemoryLog(),
      timeoutMs: 300,
    });
    await expect(hanging.sample()).rejects.toThrow(/timed out after 300 ms/);
  });

  it('splits a command line like a shell would, but runs no shell', () => {
    expect(splitCommandLine('ssh gpu-7 nvidia-smi')).toEqual(['ssh', 'gpu-7', 'nvidia-smi']);
    expect(splitCommandLine(`node "/opt/my tools/smi.mjs" --x '$HOME'`)).toEqual([
      'node',
      '/opt/my tools/smi.mjs',
      '--x',
      '$HOME',
    ]);
    expect(() => splitCommandLine('nvidia-smi | tee /tmp/x')).toThrow(/"\|"/);
    expect(() => splitCommandLine('nvidia-smi; rm -rf /')).toThrow(/";"/);
    expect(() => splitCommandLine('   ')).toThrow(/empty/);
  });
});
