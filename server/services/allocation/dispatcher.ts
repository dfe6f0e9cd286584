import type { AllocationChangeView } from '../../../lib/allocation/types';
import type { AllocationCommand, AllocationCommandAck, Assignments } from '../../../lib/protocol/agent';
import type { Db } from '../../db/client';
import type { Prisma } from '../../generated/prisma/client';
import { logger } from '../../log';
import { assignmentsFor } from '../agents/inventory';
import { recordAudit } from '../audit/audit-log';
import type { FleetCatalog } from '../fleet/catalog';
import {
  type Actor,
  bumpVersions,
  lockDeployments,
  lockGpus,
  lockJobs,
  type NodeResult,
  toView,
} from './changes';

const log = logger('allocation');

const SYSTEM: Actor = { kind: 'system', id: null, name: 'switchyard' };

/** How the dispatcher reaches a node's agent; the agent gateway provides it. */
export interface AgentCommandChannel {
  /**
   * Sends the command to the node's connected agent and resolves with its answer, or with
   * `unreachable` (no agent connected) / `timed_out` (no answer within `timeoutMs`).
   */
  sendAllocation(
    nodeId: string,
    command: AllocationCommand,
    timeoutMs: number,
  ): Promise<AllocationCommandAck | { ok: false; state: 'unreachable' | 'timed_out'; error: string }>;
  /** Tells a node's agent its new assignments without waiting (nodes whose GPUs did not move). */
  notifyAssignments(nodeId: string, assignments: Assignments): void;
}

type Deps = {
  db: Db;
  catalog: FleetCatalog;
  agents: AgentCommandChannel;
  /** Announces a change's new state to the live views. */
  publish: (change: AllocationChangeView) => void;
  ackTimeoutMs: number;
};

/**
 * Carries committed changes out on the machines: each node whose GPUs moved gets its new
 * assignments and must confirm; every other node serving a touched deployment is told too
 * (its replica count changed). If any node fails or stays silent past the timeout, the
 * change is rolled back to the previous owners, and the nodes get the old assignments.
 */
export class AllocationDispatcher {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: Deps) {}

  /** Marks the change applying, then applies it in the background. */
  async dispatch(changeId: string): Promise<AllocationChangeView> {
    const { db, catalog } = this.deps;
    const change = await db.allocationChange.update({
      where: { id: changeId },
      data: { state: 'applying' },
      include: { moves: true },
    });
    const view = toView(change, catalog);
    this.announce(view);
    const work = this.apply(view).catch((error) => log.error(`applying change ${changeId} failed`, error));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return view;
  }

  /** Tells the live views; a browser room that fails must never break a change. */
  announce(change: AllocationChangeView): void {
    try {
      this.deps.publish(change);
    } catch (error) {
      log.warn(`could not announce change ${change.id}: ${(error as Error).message}`);
    }
  }

  /** Waits for every change being applied to finish (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * After a restart nobody knows whether the agents applied the changes that were in
   * flight: roll them back, so the database and the machines agree again (agents receive
   * their assignments when they reconnect).
   */
  async recoverInterrupted(): Promise<number> {
    const stuck = await this.deps.db.allocationChange.findMany({
      where: { state: { in: ['pending', 'applying'] } },
      select: { id: true },
    });
    for (const { id } of stuck) {
      await this.rollback(id, 'the server restarted before every node confirmed the change', false);
    }
    return stuck.length;
  }

  /** Rolls back a committed change that was never sent to its nodes, and returns it. */
  async abandon(changeId: string, why: string): Promise<AllocationChangeView> {
    await this.rollback(changeId, why, false);
    const change = await this.deps.db.allocationChange.findUniqueOrThrow({
      where: { id: changeId },
      include: { moves: true },
    });
    return toView(change, this.deps.catalog);
  }

  private async apply(change: AllocationChangeView): Promise<void> {
    const { catalog, agents, ackTimeoutMs } = this.deps;
    const movedNodes = [...new Set(change.moves.map((m) => m.nodeId))];
    const results = await Promise.all(
      movedNodes.map(async (nodeId): Promise<NodeResult> => {
        const hostname = catalog.nodes.get(nodeId)?.hostname ?? nodeId;
        const command: AllocationCommand = {
          changeId: change.id,
          rollback: false,
          assignments: assignmentsFor(catalog, nodeId),
        };
        const reply = await agents.sendAllocation(nodeId, command, ackTimeoutMs);
        if (reply.ok) return { nodeId, hostname, state: 'applied', error: null };
        const state = 'state' in reply ? reply.state : 'failed';
        return { nodeId, hostname, state, error: reply.error };
      }),
    );
    this.notifyOthers(change, movedNodes);

    const failed = results.filter((r) => r.state !== 'applied');
    if (failed.length === 0) {
      await this.finish(change.id, 'applied', results, null);
      return;
    }
    const why = failed.map((r) => `${r.hostname} ${describeFailure(r)}`).join('; ');
    await this.rollback(change.id, why, true, results);
  }

  private async finish(
    changeId: string,
    state: 'applied',
    nodes: NodeResult[],
    outcome: string | null,
  ): Promise<void> {
    const { db, catalog } = this.deps;
    const change = await db.$transaction(async (tx) => {
      const updated = await tx.allocationChange.update({
        where: { id: changeId },
        data: { state, nodes, outcome, finishedAt: new Date() },
        include: { moves: true },
      });
      await recordAudit(tx, {
        actor: SYSTEM,
        action: 'allocation.applied',
        targetType: 'allocation_change',
        targetId: changeId,
        reason: updated.reason,
        outcome: 'applied',
        details: { nodes } as Prisma.InputJsonValue,
      });
      return updated;
    });
    log.info(`change ${changeId} applied on ${nodes.length} node(s)`);
    this.announce(toView(change, catalog));
  }

  /**
   * Restores every moved GPU to its previous owner, bumps the versions again (the state a
   * client read during the change is gone), and tells the nodes.
   */
  private async rollback(
    changeId: string,
    why: string,
    tellNodes: boolean,
    nodeResults?: NodeResult[],
  ): Promise<void> {
    const { db, catalog } = this.deps;
    const change = await db.$transaction(async (tx) => {
      const moves = await tx.allocationMove.findMany({ where: { changeId } });
      const deploymentIds = new Set<string>();
      const jobIds = new Set<string>();
      for (const m of moves) {
        for (const id of [m.fromDeploymentId, m.toDeploymentId]) if (id) deploymentIds.add(id);
        for (const id of [m.fromJobId, m.toJobId]) if (id) jobIds.add(id);
      }
      // The same lock order as a change (GPUs, deployments, jobs) and before any write:
      // the writes' foreign-key checks would otherwise lock owners out of order.
      await lockGpus(tx, moves.map((m) => m.gpuId).sort());
      const deployments = await lockDeployments(tx, [...deploymentIds].sort());
      const jobs = await lockJobs(tx, [...jobIds].sort());
      for (const m of moves) {
        // A change holds its GPUs until it ends (see the busy check), so the owner is still
        // the one this change set; restoring it cannot overwrite anyone else's change.
        if (!m.fromDeploymentId && !m.fromJobId) {
          await tx.allocation.deleteMany({ where: { gpuId: m.gpuId } });
        } else {
          const owner = { deploymentId: m.fromDeploymentId, jobId: m.fromJobId };
          await tx.allocation.upsert({
            where: { gpuId: m.gpuId },
            create: { gpuId: m.gpuId, ...owner, reason: `rollback of change ${changeId}` },
            update: { ...owner, reason: `rollback of change ${changeId}`, since: new Date() },
          });
        }
      }
      const versions = await bumpVersions(tx, deployments, jobs);
      const current = await tx.allocationChange.findUniqueOrThrow({ where: { id: changeId } });
      const updated = await tx.allocationChange.update({
        where: { id: changeId },
        data: {
          state: 'rolled_back',
          outcome: `Rolled back: ${why}`,
          nodes: (nodeResults ?? current.nodes) as Prisma.InputJsonValue,
          versions,
          finishedAt: new Date(),
        },
        include: { moves: true },
      });
      await recordAudit(tx, {
        actor: SYSTEM,
        action: 'allocation.rolled_back',
        targetType: 'allocation_change',
        targetId: changeId,
        reason: updated.reason,
        outcome: 'rolled_back',
        details: { why, nodes: nodeResults ?? [] } as Prisma.InputJsonValue,
      });
      return updated;
    });
    log.warn(`change ${changeId} rolled back: ${why}`);
    await catalog.refresh();
    const view = toView(change, catalog);
    this.announce(view);
    if (!tellNodes) return;
    // Nodes that applied (or may apply late) get the restored owners; best effort, since
    // an agent that reconnects receives its assignments anyway.
    const movedNodes = [...new Set(view.moves.map((m) => m.nodeId))];
    await Promise.all(
      movedNodes.map(async (nodeId) => {
        const reply = await this.deps.agents.sendAllocation(
          nodeId,
          { changeId, rollback: true, assignments: assignmentsFor(catalog, nodeId) },
          this.deps.ackTimeoutMs,
        );
        if (!reply.ok) log.warn(`rollback of ${changeId} on ${nodeId}: ${reply.error}`);
      }),
    );
    this.notifyOthers(view, movedNodes);
  }

  /** Nodes serving a touched deployment learn its new total, so they route traffic right. */
  private notifyOthers(change: AllocationChangeView, alreadyTold: string[]): void {
    const { catalog, agents } = this.deps;
    const touched = new Set<string>();
    for (const m of change.moves) {
      for (const owner of [m.from, m.to])
        if (owner && 'deploymentId' in owner) touched.add(owner.deploymentId);
    }
    const skip = new Set(alreadyTold);
    for (const [nodeId, gpuIds] of catalog.gpuIdsByNode) {
      if (skip.has(nodeId)) continue;
      const serves = gpuIds.some((id) => {
        const owner = catalog.owners.get(id);
        return owner?.deploymentId ? touched.has(owner.deploymentId) : false;
      });
      if (serves) agents.notifyAssignments(nodeId, assignmentsFor(catalog, nodeId));
    }
  }
}

function describeFailure(result: NodeResult): string {
  switch (result.state) {
    case 'unreachable':
      return 'has no agent connected';
    case 'timed_out':
      return 'did not confirm in time';
    default:
      return `failed to apply: ${result.error ?? 'no reason given'}`;
  }
}
