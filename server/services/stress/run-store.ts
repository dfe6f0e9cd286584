import type { Principal } from '../../auth/principal';
import type { Db } from '../../db/client';
import type {
  Prisma,
  StressParticipantState,
  StressRunKind,
  StressRunState,
} from '../../generated/prisma/client';
import { recordAudit } from '../audit/audit-log';
import type { StoredSecond } from './run-aggregator';

/**
 * The stress tables: a run, its agents' parts and its merged seconds. Every report is
 * written (its second re-written whole, merged) before the agent's acknowledgement, so a
 * run's data survives a restart of the server.
 */

export type NewParticipant = {
  nodeId: string;
  hostname: string;
  endpointUrl: string;
  replicas: number;
  share: number;
};

export type ParticipantTotals = {
  nodeId: string;
  state: StressParticipantState;
  reason: string | null;
  reports: number;
  lastSeq: number;
  lastReportAt: Date | null;
  sent: number;
  completed: number;
  errors: number;
  late: number;
  latencySketch: Uint8Array | null;
};

/** Prisma's Bytes: a Uint8Array over a plain ArrayBuffer. */
export function bytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

export async function createRun(
  db: Db,
  input: {
    kind: StressRunKind;
    deploymentId: string;
    deploymentName: string;
    parentId?: string;
    definition: Prisma.InputJsonValue;
    startAt: Date;
    durationS: number;
    actor: Principal;
    participants: NewParticipant[];
    /** Steps of a capacity search are audited through their search. */
    audit: boolean;
    state?: StressRunState;
  },
): Promise<string> {
  return db.$transaction(async (tx) => {
    const run = await tx.stressRun.create({
      data: {
        kind: input.kind,
        deploymentId: input.deploymentId,
        parentId: input.parentId,
        state: input.state ?? 'starting',
        definition: input.definition,
        startAt: input.startAt,
        durationS: input.durationS,
        createdByType: input.actor.kind,
        createdById: input.actor.id,
        createdByName: input.actor.name,
        participants: { create: input.participants },
      },
    });
    if (input.audit) {
      await recordAudit(tx, {
        actor: input.actor,
        action: 'stress.start',
        targetType: 'deployment',
        targetId: input.deploymentId,
        details: {
          runId: run.id,
          kind: input.kind,
          deployment: input.deploymentName,
          definition: input.definition,
          agents: input.participants.map((p) => ({ hostname: p.hostname, share: p.share })),
        },
      });
    }
    return run.id;
  });
}

export async function setParticipantStates(
  db: Db,
  runId: string,
  changes: { nodeId: string; state: StressParticipantState; reason?: string | null }[],
): Promise<void> {
  if (changes.length === 0) return;
  await db.$transaction(
    changes.map((c) =>
      db.stressParticipant.update({
        where: { runId_nodeId: { runId, nodeId: c.nodeId } },
        data: { state: c.state, reason: c.reason ?? null },
      }),
    ),
  );
}

export async function markRunning(db: Db, runId: string): Promise<void> {
  await db.$transaction([
    db.stressRun.update({ where: { id: runId }, data: { state: 'running' } }),
    db.stressParticipant.updateMany({ where: { runId, state: 'assigned' }, data: { state: 'running' } }),
  ]);
}

function participantData(p: ParticipantTotals) {
  return {
    state: p.state,
    reason: p.reason,
    reports: p.reports,
    lastSeq: p.lastSeq,
    lastReportAt: p.lastReportAt,
    sent: BigInt(p.sent),
    completed: BigInt(p.completed),
    errors: BigInt(p.errors),
    late: BigInt(p.late),
    latencySketch: p.latencySketch ? bytes(p.latencySketch) : null,
  };
}

/** Writes one agent's report: the merged second it went into, and the agent's totals. */
export async function saveReport(
  db: Db,
  runId: string,
  second: StoredSecond,
  participant: ParticipantTotals,
): Promise<void> {
  const interval = { ...second, latencySketch: bytes(second.latencySketch) };
  await db.$transaction([
    db.stressInterval.upsert({
      where: { runId_second: { runId, second: second.second } },
      create: { runId, ...interval },
      update: interval,
    }),
    db.stressParticipant.update({
      where: { runId_nodeId: { runId, nodeId: participant.nodeId } },
      data: participantData(participant),
    }),
  ]);
}

export async function finishRun(
  db: Db,
  input: {
    runId: string;
    state: StressRunState;
    reason: string | null;
    results: Prisma.InputJsonValue;
    durationS?: number;
    participants: ParticipantTotals[];
    /** The finish goes to the audit log in the starter's name; null for a search's steps. */
    audit: { actor: Principal; deploymentId: string; kind: StressRunKind } | null;
  },
): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.stressRun.update({
      where: { id: input.runId },
      data: {
        state: input.state,
        reason: input.reason,
        results: input.results,
        finishedAt: new Date(),
        ...(input.durationS === undefined ? {} : { durationS: input.durationS }),
      },
    });
    for (const p of input.participants) {
      await tx.stressParticipant.update({
        where: { runId_nodeId: { runId: input.runId, nodeId: p.nodeId } },
        data: participantData(p),
      });
    }
    if (input.audit) {
      await recordAudit(tx, {
        actor: input.audit.actor,
        action: 'stress.finish',
        targetType: 'deployment',
        targetId: input.audit.deploymentId,
        outcome: input.state,
        reason: input.reason ?? undefined,
        details: { runId: input.runId, kind: input.audit.kind },
      });
    }
  });
}

export async function storedSeconds(db: Db, runId: string): Promise<StoredSecond[]> {
  return db.stressInterval.findMany({ where: { runId }, orderBy: { second: 'asc' } });
}

/** The principal a run was started by, as far as the run remembers it (for later audit entries). */
export function starterOf(run: {
  createdByType: string;
  createdById: string | null;
  createdByName: string;
}): Principal {
  return run.createdByType === 'token'
    ? {
        kind: 'token',
        id: run.createdById ?? '',
        name: run.createdByName,
        scopes: [],
        ownerId: '',
        ownerRole: 'viewer',
      }
    : { kind: 'user', id: run.createdById ?? '', name: run.createdByName, role: 'viewer' };
}
