import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeInput, PlannerInput } from '../../lib/allocation/types';
import { DEMO_NODES } from '../../lib/demo-fleet';
import type { Db } from '../../server/db/client';
import { AppError } from '../../server/errors';
import { assignmentsFor } from '../../server/services/agents/inventory';
import { AllocationService } from '../../server/services/allocation/allocation-service';
import { AutoPlanner } from '../../server/services/allocation/auto-planner';
import type { Actor } from '../../server/services/allocation/changes';
import { buildPlannerInput } from '../../server/services/allocation/planner-input';
import { seedDemoFleet } from '../../server/services/demo/seed';
import { FleetCatalog } from '../../server/services/fleet/catalog';
import { LiveTelemetry } from '../../server/services/telemetry/live-telemetry';
import { SimulatorSource } from '../../workers/agent/sources/simulator/simulator-source';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The automatic planner against a real database and the real allocation service, fed by
 * the demo fleet's simulator through LiveTelemetry: it finds chat-70b over its SLO, moves
 * GPUs to it within its budget, respects cooldowns, and stops submitting once turned off.
 */
let database: TestDatabase;
let db: Db;
let catalog: FleetCatalog;
let telemetry: LiveTelemetry;
let service: AllocationService;
const SYSTEM: Actor = { kind: 'system', id: null, name: 'auto-planner' };
const ADMIN: Actor = { kind: 'user', id: null, name: 'admin' };
let simulatedSeconds = 1_800_000_000;

/**
 * Runs every demo node's simulator on its current assignments for `seconds` simulated
 * seconds and hands the last second of each to LiveTelemetry, as the agents would.
 */
async function observeFleet(seconds = 90): Promise<void> {
  const nodeIdByHost = new Map([...catalog.nodes.values()].map((n) => [n.hostname, n.id]));
  for (const node of DEMO_NODES) {
    const nodeId = nodeIdByHost.get(node.hostname)!;
    let nowMs = simulatedSeconds * 1000;
    const source = new SimulatorSource({ node, now: () => nowMs, serveHttp: false });
    source.applyAssignments(assignmentsFor(catalog, nodeId));
    let sample = await source.sample(1000);
    for (let s = 1; s < seconds; s++) {
      nowMs += 1000;
      sample = await source.sample(1000);
    }
    const gpuIds = catalog.gpuIdsByNode.get(nodeId)!;
    telemetry.ingest(nodeId, { seq: 1, sampledAt: Date.now(), intervalMs: 1000, ...sample }, gpuIds);
  }
  simulatedSeconds += seconds;
}

async function holdings(): Promise<Map<string, Map<string, number>>> {
  const rows = await db.allocation.findMany({ include: { deployment: true, gpu: true } });
  const result = new Map<string, Map<string, number>>();
  for (const row of rows) {
    if (!row.deployment) continue;
    const perNode = result.get(row.deployment.name) ?? new Map<string, number>();
    perNode.set(row.gpu.nodeId, (perNode.get(row.gpu.nodeId) ?? 0) + 1);
    result.set(row.deployment.name, perNode);
  }
  return result;
}

const total = (perNode: Map<string, number> | undefined) =>
  [...(perNode?.values() ?? [])].reduce((a, b) => a + b, 0);

function planner(
  overrides: {
    submit?: (input: ChangeInput) => Promise<unknown>;
    buildInput?: () => Promise<PlannerInput>;
  } = {},
) {
  return new AutoPlanner({
    db,
    buildInput: overrides.buildInput ?? (() => buildPlannerInput({ db, catalog, telemetry })),
    submit: overrides.submit ?? ((input) => service.submit(SYSTEM, input)),
    lastChangedAt: (id) => service.lastChangedAt(id),
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  await seedDemoFleet(db);
  catalog = new FleetCatalog(db);
  await catalog.refresh();
  for (const node of catalog.nodes.values()) node.status = 'online';
  telemetry = new LiveTelemetry(catalog);
  service = new AllocationService({
    db,
    catalog,
    agents: { sendAllocation: async () => ({ ok: true }), notifyAssignments() {} },
    publish: () => {},
    telemetry,
    ackTimeoutMs: 1_000,
  });
});

afterAll(async () => {
  await service?.dispatcher.settled();
  await database?.drop();
});

describe('buildPlannerInput', () => {
  it('reads owners, bounds and versions from the database and load from live telemetry', async () => {
    await observeFleet();
    const input = await buildPlannerInput({ db, catalog, telemetry });
    expect(input.gpus).toHaveLength(96);
    expect(input.gpus.every((g) => g.eligible)).toBe(true);
    expect(input.gpus.filter((g) => g.jobId)).toHaveLength(16);
    expect(input.jobs).toEqual([expect.objectContaining({ name: 'pretrain-8b-run-42', version: 0 })]);
    const chat = input.deployments.find((d) => d.name === 'chat-70b')!;
    expect(chat).toMatchObject({ minGpus: 8, maxGpus: 32, gpusPerReplica: 4, sloP95Ms: 1200, version: 0 });
    expect(chat.p95Ms!).toBeGreaterThan(1200);
    expect(chat.requestsPerSecond).toBeGreaterThan(10);
    expect(chat.utilizationPct!).toBeGreaterThan(70);
    const embed = input.deployments.find((d) => d.name === 'embed-small')!;
    expect(embed.utilizationPct!).toBeLessThan(5);
    expect(input.gpus.find((g) => g.deploymentId === chat.id)!.label).toMatch(/^use1-h100-01\/\d$/);
  });

  it('counts a cordoned node, an unhealthy GPU and a GPU held by a change in flight as ineligible', async () => {
    const [node] = [...catalog.nodes.values()].filter((n) => n.hostname === 'euw1-l40s-03');
    const unhealthy = catalog.gpuIdsByNode.get(
      [...catalog.nodes.values()].find((n) => n.hostname === 'euw1-l40s-02')!.id,
    )![0]!;
    node!.cordoned = true;
    catalog.gpus.get(unhealthy)!.health = 'degraded';
    try {
      const input = await buildPlannerInput({ db, catalog, telemetry });
      const ineligible = input.gpus.filter((g) => !g.eligible);
      expect(ineligible).toHaveLength(9);
      expect(ineligible.map((g) => g.id)).toContain(unhealthy);
    } finally {
      node!.cordoned = false;
      catalog.gpus.get(unhealthy)!.health = 'ok';
    }
  });
});

describe('AutoPlanner', () => {
  it('refuses bad settings, naming the field, and stores nothing', async () => {
    const auto = planner();
    await expect(auto.updateSettings({ intervalS: 0 }, ADMIN)).rejects.toThrow(/^intervalS: /);
    await expect(auto.updateSettings({ maxMovesPerInterval: 2.5 }, ADMIN)).rejects.toThrow(
      /^maxMovesPerInterval: /,
    );
    await expect(auto.updateSettings({ enabled: 'yes' }, ADMIN)).rejects.toBeInstanceOf(AppError);
    await expect(auto.updateSettings({ everySecond: true }, ADMIN)).rejects.toThrow(/everySecond/);
    expect(await db.autoPlannerSettings.count()).toBe(0);
    expect(auto.status()).toMatchObject({ enabled: false, lastResult: 'not run yet' });
  });

  it('moves GPUs to the deployment over its SLO within its move budget, as one audited change', async () => {
    const auto = planner();
    await auto.updateSettings(
      { enabled: true, maxMovesPerInterval: 8, intervalS: 3600, cooldownS: 600 },
      ADMIN,
    );
    const stored = await db.autoPlannerSettings.findUniqueOrThrow({ where: { id: 1 } });
    expect(stored).toMatchObject({
      enabled: true,
      maxMovesPerInterval: 8,
      intervalS: 3600,
      cooldownS: 600,
      updatedBy: 'admin',
    });
    expect(await db.auditEvent.count({ where: { action: 'autoplanner.settings' } })).toBe(1);

    const before = await holdings();
    const result = await auto.runOnce();
    expect(result).toMatch(/^submitted \d+ move\(s\) in \d+ of \d+ step\(s\)$/);
    const change = await db.allocationChange.findFirstOrThrow({
      where: { source: 'auto' },
      include: { moves: true },
    });
    expect(change.moves.length).toBeGreaterThan(0);
    expect(change.moves.length).toBeLessThanOrEqual(8);
    expect(change.reason).toMatch(
      /^Automatic rebalance \(\d+ of \d+ steps?\): chat-70b p95 [\d,]+ ms over its 1,200 ms SLO/,
    );
    await service.dispatcher.settled();
    expect((await db.allocationChange.findUniqueOrThrow({ where: { id: change.id } })).state).toBe('applied');

    const after = await holdings();
    expect(total(after.get('chat-70b'))).toBeGreaterThan(total(before.get('chat-70b')));
    for (const [name, perNode] of after) {
      const k = name === 'chat-70b' ? 4 : name === 'code-34b' || name === 'vision-13b' ? 2 : 1;
      for (const count of perNode.values()) expect(count % k, name).toBe(0);
    }
    expect(auto.status()).toMatchObject({ enabled: true, lastResult: result });
    expect(auto.status().lastRunAt).toBeInstanceOf(Date);
  });

  it('leaves deployments changed within the cooldown alone', async () => {
    await catalog.refresh();
    await observeFleet();
    const auto = planner();
    await auto.start();
    const changed = new Set(
      (await db.allocationMove.findMany())
        .flatMap((m) => [m.fromDeploymentId, m.toDeploymentId])
        .filter(Boolean),
    );
    const changesBefore = await db.allocationChange.count();
    const result = await auto.runOnce();
    const fresh = await db.allocationChange.findMany({
      where: { source: 'auto' },
      include: { moves: true },
      orderBy: { createdAt: 'asc' },
    });
    if (result.startsWith('submitted')) {
      const last = fresh[fresh.length - 1]!;
      for (const move of last.moves) {
        expect(changed.has(move.fromDeploymentId)).toBe(false);
        expect(changed.has(move.toDeploymentId)).toBe(false);
      }
    } else {
      expect(result).toMatch(/wait for deployments changed within the last 600 s|nothing to change/);
      expect(await db.allocationChange.count()).toBe(changesBefore);
    }
    await auto.stop();
  });

  it('does not submit once turned off, even from a run already in progress', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let submitted = 0;
    const auto = planner({
      buildInput: async () => {
        await gate;
        return buildPlannerInput({ db, catalog, telemetry });
      },
      submit: async () => {
        submitted += 1;
      },
    });
    await auto.start();
    await auto.updateSettings({ enabled: true, cooldownS: 0 }, ADMIN);
    const run = auto.runOnce();
    await auto.updateSettings({ enabled: false }, ADMIN);
    release();
    expect(await run).toBe('skipped: turned off while planning');
    expect(await auto.runOnce()).toBe('skipped: turned off');
    expect(submitted).toBe(0);
    expect(auto.status().enabled).toBe(false);
    await auto.stop();
  });

  it('runs by itself every interval while enabled, and not after stop()', async () => {
    let submitted = 0;
    const auto = planner({
      submit: async () => {
        submitted += 1;
      },
    });
    await auto.updateSettings({ enabled: true, intervalS: 5, cooldownS: 0 }, ADMIN);
    await auto.start();
    await new Promise((r) => setTimeout(r, 5_600));
    expect(auto.status().lastRunAt).not.toBeNull();
    expect(submitted).toBe(1);
    await auto.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(submitted).toBe(1);
    await auto.updateSettings({ enabled: false }, ADMIN);
  }, 15_000);
});
