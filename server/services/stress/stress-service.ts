import { randomUUID } from 'node:crypto';
import type { Namespace, Server as SocketServer } from 'socket.io';
import { protocolErrorFromZod } from '../../../lib/protocol/agent';
import {
  type BrowserToServerEvents,
  LIVE_NAMESPACE,
  type ServerToBrowserEvents,
  type StressLiveUpdate,
  type StressThresholdStatus,
} from '../../../lib/protocol/live';
import { type StressAssignment, ZAgentEndpoints, ZStressReport } from '../../../lib/protocol/stress';
import {
  type CapacitySearchDefinition,
  CONFIRM_PRIORITY,
  loadDurationS,
  parsedThresholds,
  peakRps,
  peakRpsField,
  type RunDefinition,
  type StressRunState,
} from '../../../lib/stress/run-definition';
import { judgeThreshold } from '../../../lib/stress/thresholds';
import type { Principal } from '../../auth/principal';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { logger } from '../../log';
import { recordAudit } from '../audit/audit-log';
import {
  type ActiveParticipant,
  type ActiveRun,
  decideEnd,
  failedText,
  implausible,
  newParticipant,
  type RunOutcome,
  recordReport,
  refuse,
  type StopRequest,
  totalsOf,
} from './active-run';
import type { EndpointsAck, StressAgentSocket, StressReportAck } from './agent-events';
import { CapacitySearch } from './capacity-search';
import { EndpointRegistry, splitByReplicas } from './endpoint-registry';
import { recoverInterruptedRuns } from './recovery';
import { RunAggregator, type RunFigures } from './run-aggregator';
import { createRun, finishRun, markRunning, saveReport, setParticipantStates } from './run-store';
import { exportRun, getRunView, type LiveRunState, listRuns } from './run-views';
import type { StartOutput, StressResults } from './views';

const log = logger('stress');

/** Agents are told to start this far ahead, so every one has the assignment in time. */
export const START_LEAD_MS = 1_000;
const START_ACK_TIMEOUT_MS = 3_000;
/** An agent that sends nothing for this long during a run is counted as lost. */
const REPORT_SILENCE_MS = 5_000;
/** How long after its planned end a run waits for agents' final reports. */
const FINISH_TIMEOUT_MS = 10_000;
/** How long after a stop a run waits for agents' final reports. */
const STOP_WAIT_MS = 5_000;
const TICK_MS = 1_000;
/** Holds a deployment while a run against it is being set up (before it has an id). */
const PENDING = 'pending:';

export type StressServiceOptions = {
  db: Db;
  io: SocketServer;
  /** STRESS_MAX_RPS: the highest rate a run may ask for, all agents together. */
  maxRps: number;
};

/**
 * Runs stress tests: splits a run's load among the agents that serve the deployment,
 * merges their per-second reports, judges thresholds on the merged measured phase (and
 * stops the run when one fails), and stores everything as it arrives.
 */
export class StressService {
  readonly endpoints = new EndpointRegistry();
  private readonly db: Db;
  private readonly io: SocketServer;
  private readonly maxRps: number;
  private readonly runs = new Map<string, ActiveRun>();
  private readonly searches = new Map<string, CapacitySearch>();
  /** One stress test per deployment at a time: deployment id → run or search id. */
  private readonly busy = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(options: StressServiceOptions) {
    this.db = options.db;
    this.io = options.io;
    this.maxRps = options.maxRps;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  // --- Agents ------------------------------------------------------------------------

  /** Handles a connected agent's stress messages; `ready` says whether its inventory was accepted. */
  attachAgent(
    socket: StressAgentSocket,
    node: { id: string; hostname: string },
    ready: () => boolean,
    nodeServes: (deploymentId: string) => boolean,
  ): void {
    socket.on('endpoints', (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      reply(this.acceptEndpoints(socket, node, ready(), payload, nodeServes));
    });
    socket.on('stress:report', (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      this.ingestReport(node.id, payload).then(reply, (error) => {
        log.error(`stress report from ${node.hostname} failed`, error);
        reply({ ok: false, error: { code: 'INTERNAL', message: 'internal error; retry later' } });
      });
    });
    socket.on('disconnect', () => this.agentDisconnected(node.id, node.hostname, socket.id));
  }

  private acceptEndpoints(
    socket: StressAgentSocket,
    node: { id: string; hostname: string },
    ready: boolean,
    payload: unknown,
    nodeServes: (deploymentId: string) => boolean,
  ): EndpointsAck {
    if (!ready) return refuse({ code: 'NOT_READY', message: 'send inventory before endpoints' });
    const parsed = ZAgentEndpoints.safeParse(payload);
    if (!parsed.success) return refuse(protocolErrorFromZod(parsed.error));
    for (const [i, endpoint] of parsed.data.endpoints.entries()) {
      if (!nodeServes(endpoint.deploymentId)) {
        const field = `endpoints.${i}.deploymentId`;
        return refuse({
          code: 'FORBIDDEN',
          field,
          message: `${field}: no GPU of ${node.hostname} serves this deployment`,
        });
      }
    }
    this.endpoints.set(node.id, node.hostname, socket, parsed.data.endpoints);
    return { ok: true, endpoints: parsed.data.endpoints.length };
  }

  private agentDisconnected(nodeId: string, hostname: string, socketId: string): void {
    if (!this.endpoints.drop(nodeId, socketId)) return;
    for (const run of this.runs.values()) {
      const p = run.participants.get(nodeId);
      if (p && (p.state === 'assigned' || p.state === 'running')) {
        this.loseParticipant(run, p, `the agent on ${hostname} disconnected`);
      }
    }
  }

  private loseParticipant(run: ActiveRun, p: ActiveParticipant, reason: string): void {
    p.state = 'lost';
    p.reason = reason;
    log.warn(`stress run ${run.id}: ${reason}`);
    run.writes = run.writes
      .then(() => setParticipantStates(this.db, run.id, [{ nodeId: p.nodeId, state: 'lost', reason }]))
      .catch((error) => log.error(`stress run ${run.id}: could not record a lost agent`, error));
    this.finishIfSettled(run);
  }

  /** Validates, de-duplicates, merges and stores one report; acknowledged once stored. */
  async ingestReport(nodeId: string, payload: unknown): Promise<StressReportAck> {
    const parsed = ZStressReport.safeParse(payload);
    if (!parsed.success) return refuse(protocolErrorFromZod(parsed.error));
    const report = parsed.data;
    const run = this.runs.get(report.runId);
    if (!run) {
      return refuse({
        code: 'BAD_FRAME',
        field: 'runId',
        message: `runId: no run ${report.runId} in progress`,
      });
    }
    const p = run.participants.get(nodeId);
    if (!p || p.state === 'refused') {
      return refuse({
        code: 'FORBIDDEN',
        field: 'runId',
        message: `runId: this node has no part in run ${run.id}`,
      });
    }
    if (p.seqs.has(report.seq)) return { ok: true, seq: report.seq, duplicate: true };
    const problem = implausible(run, report);
    if (problem) return refuse(problem);

    const second = recordReport(run, p, report);

    const write = run.writes.then(() => {
      const stored = run.aggregator.storedSecond(second)!;
      return saveReport(this.db, run.id, stored, totalsOf(p));
    });
    run.writes = write.catch(() => {});
    try {
      await write;
    } catch (error) {
      // Held in memory: the next write of this second and of this agent carries it.
      log.error(`stress run ${run.id}: could not store a report`, error);
      return refuse({ code: 'INTERNAL', message: 'internal error; the report is held, retry later' });
    }
    if (report.done) this.finishIfSettled(run);
    return { ok: true, seq: report.seq, duplicate: false };
  }

  // --- Starting ------------------------------------------------------------------------

  /** The deployment, if it exists and (when its priority asks for it) its name was typed. */
  private async checkedDeployment(deploymentId: string, confirm: string | undefined) {
    const deployment = await this.db.deployment.findUnique({
      where: { id: deploymentId },
      select: { id: true, name: true, priority: true, sloP95Ms: true },
    });
    if (!deployment) {
      throw new AppError('NOT_FOUND', `deploymentId: no deployment with id ${deploymentId}`, {
        field: 'deploymentId',
      });
    }
    if (deployment.priority >= CONFIRM_PRIORITY && confirm !== deployment.name) {
      throw new AppError(
        'BAD_REQUEST',
        `confirm: ${deployment.name} has priority ${deployment.priority}; type its name to load it`,
        { field: 'confirm' },
      );
    }
    return deployment;
  }

  private checkRate(field: string | null, rps: number | null): void {
    if (rps === null || rps <= this.maxRps) return;
    throw new AppError(
      'BAD_REQUEST',
      `${field}: ${rps} req/s is over this server's limit of ${this.maxRps} req/s (STRESS_MAX_RPS)`,
      { field },
    );
  }

  private claim(deployment: { id: string; name: string }, id: string): void {
    const holder = this.busy.get(deployment.id);
    if (holder) {
      const which = holder.startsWith(PENDING) ? 'another stress test' : `a stress test (${holder})`;
      throw new AppError('CONFLICT', `deploymentId: ${which} is already running against ${deployment.name}`, {
        field: 'deploymentId',
      });
    }
    this.busy.set(deployment.id, id);
  }

  private release(deploymentId: string, id: string): void {
    if (this.busy.get(deploymentId) === id) this.busy.delete(deploymentId);
  }

  async start(definition: RunDefinition, actor: Principal): Promise<StartOutput> {
    if (this.closed) throw new AppError('CONFLICT', 'the server is shutting down');
    const deployment = await this.checkedDeployment(definition.deploymentId, definition.confirm);
    this.checkRate(peakRpsField(definition.load), peakRps(definition.load));
    const claim = `${PENDING}${randomUUID()}`;
    this.claim(deployment, claim);
    try {
      const started = await this.launch({ kind: 'load', parentId: null, deployment, definition, actor });
      return started.output;
    } finally {
      this.release(deployment.id, claim);
    }
  }

  /**
   * Records a run, sends every agent its share and waits for their acknowledgements. A run
   * that an agent refuses (or does not acknowledge) is stopped on the others and ends in
   * `error`.
   */
  async launch(input: {
    kind: 'load' | 'step';
    parentId: string | null;
    deployment: { id: string; name: string };
    definition: RunDefinition;
    actor: Principal;
  }): Promise<{ output: StartOutput; finished: Promise<RunOutcome> }> {
    const { deployment, actor } = input;
    const { confirm: _confirm, ...definition } = input.definition;
    const hosts = this.endpoints.hostsOf(deployment.id);
    if (hosts.length === 0) {
      throw new AppError(
        'CONFLICT',
        `deploymentId: no connected agent serves ${deployment.name}; agents list their endpoints once connected`,
        { field: 'deploymentId' },
      );
    }
    const shares = splitByReplicas(hosts);
    const startAt = Date.now() + START_LEAD_MS;
    const durationS = loadDurationS(definition.load);
    const id = await createRun(this.db, {
      kind: input.kind,
      deploymentId: deployment.id,
      deploymentName: deployment.name,
      parentId: input.parentId ?? undefined,
      definition,
      startAt: new Date(startAt),
      durationS,
      actor,
      participants: shares.map((h) => ({
        nodeId: h.nodeId,
        hostname: h.hostname,
        endpointUrl: h.url,
        replicas: h.replicas,
        share: h.share,
      })),
      audit: input.kind === 'load',
    });

    let resolveFinished!: (outcome: RunOutcome) => void;
    const finished = new Promise<RunOutcome>((resolve) => {
      resolveFinished = resolve;
    });
    const run: ActiveRun = {
      id,
      kind: input.kind,
      parentId: input.parentId,
      deployment,
      definition,
      thresholds: parsedThresholds(definition.thresholds),
      startAt,
      durationS,
      actor,
      state: 'starting',
      participants: new Map(shares.map((h) => [h.nodeId, newParticipant(h)])),
      aggregator: new RunAggregator(startAt),
      breaches: new Map(),
      stop: null,
      writes: Promise.resolve(),
      finishing: null,
      finished,
      resolveFinished,
    };
    this.runs.set(id, run);
    if (input.kind === 'load') this.busy.set(deployment.id, id);

    const acks = await Promise.all(
      shares.map(async (h) => {
        const assignment: StressAssignment = {
          runId: id,
          deploymentId: deployment.id,
          load: definition.load,
          share: h.share,
          warmupS: definition.warmupS,
          request: definition.request,
          startAt,
        };
        try {
          const ack = await h.socket.timeout(START_ACK_TIMEOUT_MS).emitWithAck('stress:start', assignment);
          if (ack && typeof ack === 'object' && ack.ok === true) return null;
          const why = ack && typeof ack === 'object' && 'error' in ack ? String(ack.error) : 'refused';
          return { nodeId: h.nodeId, reason: `${h.hostname} refused the run: ${why}` };
        } catch {
          return { nodeId: h.nodeId, reason: `${h.hostname} did not acknowledge the run in time` };
        }
      }),
    );
    const refusals = acks.filter((a) => a !== null);
    if (refusals.length > 0) {
      for (const r of refusals) {
        const p = run.participants.get(r.nodeId)!;
        p.state = 'refused';
        p.reason = r.reason;
      }
      this.requestStop(run, {
        outcome: 'error',
        reason: refusals.map((r) => r.reason).join('; '),
        at: Date.now(),
      });
      await this.finalize(run);
    } else if (!run.finishing) {
      // (A run ended while its acknowledgements were awaited, by a shutdown, stays ended.)
      run.state = 'running';
      await markRunning(this.db, id);
      for (const p of run.participants.values()) if (p.state === 'assigned') p.state = 'running';
    }
    const outcome = run.finishing ? await run.finishing : null;
    return {
      output: {
        id,
        state: outcome?.state ?? run.state,
        reason: outcome?.reason ?? null,
        startAt: new Date(startAt).toISOString(),
        durationS,
        participants: [...run.participants.values()].map((p) => ({
          nodeId: p.nodeId,
          hostname: p.hostname,
          share: p.share,
          replicas: shares.find((h) => h.nodeId === p.nodeId)!.replicas,
          state: p.state,
          reason: p.reason,
        })),
      },
      finished,
    };
  }

  async startCapacitySearch(definition: CapacitySearchDefinition, actor: Principal): Promise<StartOutput> {
    if (this.closed) throw new AppError('CONFLICT', 'the server is shutting down');
    const deployment = await this.checkedDeployment(definition.deploymentId, definition.confirm);
    this.checkRate('maxRps', definition.maxRps);
    if (this.endpoints.hostsOf(deployment.id).length === 0) {
      throw new AppError(
        'CONFLICT',
        `deploymentId: no connected agent serves ${deployment.name}; agents list their endpoints once connected`,
        { field: 'deploymentId' },
      );
    }
    const claim = `${PENDING}${randomUUID()}`;
    this.claim(deployment, claim);
    try {
      const { confirm: _confirm, ...stored } = definition;
      const sloP95Ms = definition.sloP95Ms ?? deployment.sloP95Ms;
      const now = new Date();
      const id = await createRun(this.db, {
        kind: 'capacity',
        deploymentId: deployment.id,
        deploymentName: deployment.name,
        definition: { ...stored, sloP95Ms },
        startAt: now,
        durationS: 0,
        actor,
        participants: [],
        audit: true,
        state: 'running',
      });
      this.busy.set(deployment.id, id);
      const search = new CapacitySearch({
        id,
        definition: { ...definition, sloP95Ms },
        deployment,
        actor,
        db: this.db,
        runStep: (stepDefinition) =>
          this.launch({ kind: 'step', parentId: id, deployment, definition: stepDefinition, actor }),
        abortStep: (stepId, reason) => this.stopRun(stepId, { outcome: 'aborted', reason, at: Date.now() }),
      });
      this.searches.set(id, search);
      void search.run().finally(() => {
        this.searches.delete(id);
        this.release(deployment.id, id);
      });
      return {
        id,
        state: 'running',
        reason: null,
        startAt: now.toISOString(),
        durationS: 0,
        participants: [],
      };
    } finally {
      this.release(deployment.id, claim);
    }
  }

  // --- Stopping ------------------------------------------------------------------------

  private requestStop(run: ActiveRun, stop: StopRequest): void {
    if (run.stop) return;
    run.stop = stop;
    for (const p of run.participants.values()) {
      if (p.state === 'refused') continue;
      this.endpoints.socketOf(p.nodeId)?.emit('stress:stop', { runId: run.id, reason: stop.reason });
    }
  }

  private async stopRun(runId: string, stop: StopRequest): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    this.requestStop(run, stop);
    await run.finished;
  }

  /** Stops a run (or a capacity search) in progress; resolves once it has ended. */
  async abort(
    id: string,
    actor: Principal,
    reason?: string,
  ): Promise<{ id: string; state: StressRunState; reason: string | null }> {
    const why = `aborted by ${actor.name}${reason ? `: ${reason}` : ''}`;
    const search = this.searches.get(id);
    const run = this.runs.get(id);
    if (!search && !run) {
      const stored = await this.db.stressRun.findUnique({
        where: { id },
        select: { state: true, reason: true },
      });
      if (!stored) throw new AppError('NOT_FOUND', `id: no stress run ${id}`, { field: 'id' });
      throw new AppError('CONFLICT', `id: the run has already ended (${stored.state})`, { field: 'id' });
    }
    if (run?.parentId) {
      throw new AppError(
        'BAD_REQUEST',
        `id: this run is a step of capacity search ${run.parentId}; abort the search`,
        {
          field: 'id',
        },
      );
    }
    const deploymentId = run?.deployment.id ?? search!.deployment.id;
    await recordAudit(this.db, {
      actor,
      action: 'stress.abort',
      targetType: 'deployment',
      targetId: deploymentId,
      reason,
      details: { runId: id },
    });
    if (search) {
      await search.abort(why);
    } else if (run) {
      this.requestStop(run, { outcome: 'aborted', reason: why, at: Date.now() });
      await run.finished;
    }
    const stored = await this.db.stressRun.findUniqueOrThrow({
      where: { id },
      select: { state: true, reason: true },
    });
    return { id, state: stored.state, reason: stored.reason };
  }

  // --- Every second --------------------------------------------------------------------

  private tick(): void {
    const now = Date.now();
    for (const run of this.runs.values()) {
      if (run.finishing || run.state !== 'running') continue;
      try {
        this.watch(run, now);
      } catch (error) {
        log.error(`stress run ${run.id}: tick failed`, error);
      }
    }
  }

  private watch(run: ActiveRun, now: number): void {
    // Agents that went quiet without saying they are done.
    for (const p of run.participants.values()) {
      if (p.state !== 'assigned' && p.state !== 'running') continue;
      const last = Math.max(p.lastReportAt?.getTime() ?? 0, run.startAt);
      if (now - last > REPORT_SILENCE_MS && !run.stop) {
        this.loseParticipant(run, p, `the agent on ${p.hostname} stopped reporting`);
      }
    }
    if (run.finishing) return;

    const figures = run.aggregator.figures();
    const statuses = this.thresholdStatuses(run, figures);
    const judgingFrom = run.startAt + (run.definition.warmupS + run.definition.graceS) * 1000;
    if (run.definition.abortOnFail && !run.stop && now >= judgingFrom) {
      const failed = statuses.find((s) => s.pass === false);
      if (failed) {
        this.requestStop(run, { outcome: 'failed', reason: `threshold ${failedText(failed)}`, at: now });
      }
    }
    this.broadcast(run, statuses, now);

    const plannedEnd = run.startAt + run.durationS * 1000;
    if (run.stop && now - run.stop.at > STOP_WAIT_MS) {
      void this.finalize(run);
    } else if (!run.stop && now > plannedEnd + FINISH_TIMEOUT_MS) {
      for (const p of run.participants.values()) {
        if (p.state === 'assigned' || p.state === 'running') {
          this.loseParticipant(run, p, `the agent on ${p.hostname} sent no final report`);
        }
      }
      void this.finalize(run);
    }
  }

  private thresholdStatuses(run: ActiveRun, figures: RunFigures): StressThresholdStatus[] {
    const lastSecond = run.aggregator.secondOf(Date.now());
    return run.thresholds.map((threshold, i) => {
      const verdict = judgeThreshold(threshold, figures);
      if (verdict.pass === false && !run.breaches.has(i)) run.breaches.set(i, lastSecond);
      return { ...verdict, breachedSecond: run.breaches.get(i) ?? null };
    });
  }

  private liveRoom(runId: string) {
    const live = this.io.of(LIVE_NAMESPACE) as unknown as Namespace<
      BrowserToServerEvents,
      ServerToBrowserEvents
    >;
    return { live, room: `stress:${runId}` as const };
  }

  private broadcast(
    run: ActiveRun,
    thresholds: StressThresholdStatus[],
    now: number,
    final?: RunOutcome,
  ): void {
    const changed = run.aggregator.takeChanged();
    const { live, room } = this.liveRoom(run.id);
    if (!live.adapter.rooms.get(room)?.size) return;
    const update: StressLiveUpdate = {
      runId: run.id,
      at: now,
      state: final?.state ?? run.state,
      stopping: run.stop !== null && !final,
      elapsedS: Math.max(0, Math.min(run.durationS, (now - run.startAt) / 1000)),
      durationS: run.durationS,
      warmupS: run.definition.warmupS,
      points: changed.flatMap((s) => run.aggregator.point(s) ?? []),
      thresholds,
      reason: final?.reason ?? run.stop?.reason ?? null,
    };
    live.to(room).emit('stress:update', update);
  }

  // --- Finishing -----------------------------------------------------------------------

  /** Ends the run once every agent is done, refused or lost. */
  private finishIfSettled(run: ActiveRun): void {
    if (run.finishing || run.state !== 'running') return;
    const settled = [...run.participants.values()].every(
      (p) => p.state !== 'assigned' && p.state !== 'running',
    );
    if (settled) void this.finalize(run);
  }

  private finalize(run: ActiveRun, interruption?: string): Promise<RunOutcome> {
    run.finishing ??= this.finish(run, interruption).then(
      (outcome) => {
        run.resolveFinished(outcome);
        return outcome;
      },
      (error) => {
        log.error(`stress run ${run.id}: could not record its end`, error);
        const outcome: RunOutcome = {
          runId: run.id,
          state: 'error',
          reason: 'the end of the run could not be recorded',
          figures: run.aggregator.figures(),
          halvesP95: run.aggregator.halvesP95(),
        };
        run.resolveFinished(outcome);
        return outcome;
      },
    );
    return run.finishing;
  }

  private async finish(run: ActiveRun, interruption?: string): Promise<RunOutcome> {
    // No more reports are taken; those already taken are stored before the end is.
    this.runs.delete(run.id);
    await run.writes;
    if (run.kind === 'load') this.release(run.deployment.id, run.id);

    for (const p of run.participants.values()) {
      if (p.state === 'assigned' || p.state === 'running') {
        p.state = 'lost';
        p.reason = interruption ?? (run.stop ? 'no final report after the stop' : 'no final report');
      }
    }
    const figures = run.aggregator.figures();
    const thresholds = this.thresholdStatuses(run, figures);
    const { state, reason } = decideEnd(run, figures, thresholds, interruption);

    const results: StressResults = { figures, thresholds };
    await finishRun(this.db, {
      runId: run.id,
      state,
      reason,
      results,
      participants: [...run.participants.values()].map(totalsOf),
      audit:
        run.kind === 'load' ? { actor: run.actor, deploymentId: run.deployment.id, kind: run.kind } : null,
    });
    const outcome: RunOutcome = {
      runId: run.id,
      state,
      reason,
      figures,
      halvesP95: run.aggregator.halvesP95(),
    };
    this.broadcast(run, thresholds, Date.now(), outcome);
    log.info(`stress run ${run.id} against ${run.deployment.name}: ${state}${reason ? ` (${reason})` : ''}`);
    return outcome;
  }

  // --- Reading -------------------------------------------------------------------------

  /** What only the process running a run knows: its live figures and stop state. */
  private liveState = (id: string): LiveRunState | null => {
    const run = this.runs.get(id);
    if (!run) return null;
    const figures = run.aggregator.figures();
    return {
      stopping: run.stop !== null,
      figures,
      thresholds: this.thresholdStatuses(run, figures),
      aggregator: run.aggregator,
      state: run.state,
      reason: run.stop?.reason ?? null,
    };
  };

  get(id: string) {
    return getRunView(this.db, id, this.liveState);
  }

  list(filter: { deploymentId?: string; limit: number }) {
    return listRuns(this.db, filter, this.liveState);
  }

  export(id: string, format: 'json' | 'csv') {
    return exportRun(this.db, id, format, this.liveState);
  }

  // --- Process lifecycle -----------------------------------------------------------------

  /**
   * Runs a previous process left in progress cannot be finished: their agents reported to
   * it. They end as `partial` (what was stored is kept) or `error` (nothing was).
   */
  recoverInterrupted(): Promise<number> {
    return recoverInterruptedRuns(this.db);
  }

  /** Stops every run in progress (the agents are told) and records how far each got. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const reason = 'the server shut down during the run';
    // Searches stop after their current step, which ends here at once: no final reports
    // are awaited (the ticks that would time them out have stopped).
    const searches = [...this.searches.values()].map((s) => s.abort(reason, 'interrupted'));
    await Promise.all(
      [...this.runs.values()].map((run) => {
        this.requestStop(run, { outcome: 'error', reason, at: Date.now() });
        return this.finalize(run, reason);
      }),
    );
    await Promise.all(searches);
  }
}
