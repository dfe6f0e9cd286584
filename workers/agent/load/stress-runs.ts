import type { Socket } from 'socket.io-client';
import { z } from 'zod';
import type { AgentToServerEvents, Assignments, ServerToAgentEvents } from '../../../lib/protocol/agent';
import {
  type AgentEndpoints,
  type StressAssignment,
  type StressReport,
  type StressStartAck,
  ZAgentEndpoints,
  ZStressAssignment,
} from '../../../lib/protocol/stress';
import { type AgentLog, errorMessage } from '../log';
import { describeZodError } from '../server-replies';
import type { EndpointDirectory } from './endpoint-directory';
import { LoadGenerator } from './load-generator';
import { describeRefusal, type ReportEvents, ReportOutbox } from './report-outbox';

/** Runs this agent generates at once; more would only make each one's numbers worse. */
export const MAX_CONCURRENT_RUNS = 4;
/** A start further ahead than this is taken for a clock problem, not a plan. */
export const MAX_START_DELAY_MS = 10 * 60_000;
/** Endpoints announced at most (the protocol's limit). */
const MAX_ENDPOINTS = 64;
/** Finished runs remembered, so a start repeated after a reconnect does not run them again. */
const REMEMBERED_RUNS = 256;

/** The stress events of lib/protocol/stress.ts, as they travel on the agent socket. */
interface StressServerEvents {
  'stress:start': (assignment: unknown, ack?: (reply: StressStartAck) => void) => void;
  'stress:stop': (stop: unknown, ack?: (reply: { ok: boolean }) => void) => void;
}
interface StressAgentEvents extends ReportEvents {
  endpoints: (endpoints: AgentEndpoints, ack: (reply: unknown) => void) => void;
}
type StressSocket = Socket<StressServerEvents, StressAgentEvents>;

const ZStressStop = z.object({ runId: z.string().min(1).max(64), reason: z.string().max(512).default('') });

export type StressRunsOptions = {
  log: AgentLog;
  directory: EndpointDirectory;
  /** How long to wait for the server to acknowledge a report before keeping it for the next connection. */
  ackTimeoutMs?: number;
  maxBufferedReports?: number;
};

/**
 * The agent's side of stress tests: takes `stress:start` / `stress:stop` from the server,
 * runs a LoadGenerator per run against this node's endpoints for the deployment, delivers
 * its reports (kept across reconnects) and tells the server which endpoints it can load.
 */
export class StressRuns {
  private readonly log: AgentLog;
  private readonly directory: EndpointDirectory;
  private readonly outbox: ReportOutbox;
  private readonly runs = new Map<string, LoadGenerator>();
  private readonly finished = new Set<string>();
  /** The connection once the server has taken the inventory; null while there is none. */
  private socket: StressSocket | null = null;
  private closed = false;

  constructor(options: StressRunsOptions) {
    this.log = options.log;
    this.directory = options.directory;
    this.outbox = new ReportOutbox(options.log, options.ackTimeoutMs ?? 10_000, options.maxBufferedReports);
    this.directory.onChange(() => this.sendEndpoints());
  }

  /** Runs in progress, by id. */
  get active(): string[] {
    return [...this.runs.keys()];
  }

  /** Reports not yet acknowledged by the server. */
  get unacknowledged(): number {
    return this.outbox.size;
  }

  /** Subscribes to a new socket's stress events. */
  listen(agentSocket: Socket<ServerToAgentEvents, AgentToServerEvents>): void {
    // The stress events live in lib/protocol/stress.ts, apart from the agent protocol's event maps.
    const socket = agentSocket as unknown as StressSocket;
    socket.on('stress:start', (payload, ack) => {
      const reply = this.start(payload);
      if (typeof ack === 'function') ack(reply);
    });
    socket.on('stress:stop', (payload, ack) => {
      this.stop(payload);
      if (typeof ack === 'function') ack({ ok: true });
    });
    socket.on('disconnect', () => {
      if (this.socket === socket) this.socket = null;
      this.outbox.down();
    });
  }

  /** The server took the inventory: it hears the endpoints, and unacknowledged reports go out. */
  ready(agentSocket: Socket<ServerToAgentEvents, AgentToServerEvents>): void {
    const socket = agentSocket as unknown as StressSocket;
    this.socket = socket;
    this.sendEndpoints();
    this.outbox.ready(socket);
  }

  applyAssignments(assignments: Assignments): void {
    this.directory.applyAssignments(assignments);
  }

  /** Stops every run; their last reports go out while the connection is still up. */
  async close(): Promise<void> {
    this.closed = true;
    const runs = [...this.runs.values()];
    for (const run of runs) run.stop();
    await Promise.all(runs.map((run) => run.done));
  }

  private start(payload: unknown): StressStartAck {
    const parsed = ZStressAssignment.safeParse(payload);
    if (!parsed.success) {
      const error = describeZodError(parsed.error);
      this.log.error(`refused a stress run: ${error}`);
      return { ok: false, error };
    }
    const assignment = parsed.data;
    const { runId, deploymentId } = assignment;
    // The server may repeat a start after a reconnect: the run is already under way (or over).
    if (this.runs.has(runId) || this.finished.has(runId)) return { ok: true };
    if (this.closed) return { ok: false, error: 'the agent is stopping' };
    if (assignment.startAt - Date.now() > MAX_START_DELAY_MS) {
      return {
        ok: false,
        error: `startAt: more than ${MAX_START_DELAY_MS / 60_000} minutes ahead of this agent's clock`,
      };
    }
    if (this.runs.size >= MAX_CONCURRENT_RUNS) {
      return { ok: false, error: `this agent is already running ${MAX_CONCURRENT_RUNS} stress runs` };
    }
    const endpoints = this.directory.forDeployment(deploymentId);
    if (endpoints.length === 0)
      return { ok: false, error: `no endpoint for deployment ${deploymentId} on this node` };

    let generator: LoadGenerator;
    try {
      generator = new LoadGenerator({
        assignment,
        endpoints,
        onReport: (report) => this.deliver(report),
      });
      generator.start();
    } catch (error) {
      return { ok: false, error: errorMessage(error) };
    }
    this.runs.set(runId, generator);
    this.log.info(
      `stress run ${runId}: ${describeLoad(assignment)} against ${endpoints.map((e) => e.url).join(', ')}`,
    );
    void generator.done.then(() => {
      this.runs.delete(runId);
      this.remember(runId);
      const stats = generator.stats();
      this.log.info(
        `stress run ${runId} done: ${stats.sent} sent, ${stats.completed} answered, ${stats.errors} errors, ` +
          `${stats.late} late (${stats.queued} waited for a connection)` +
          `${stats.skipped > 0 ? `, ${stats.skipped} skipped (started late)` : ''}`,
      );
    });
    return { ok: true };
  }

  private deliver(report: StressReport): void {
    try {
      this.outbox.push(report);
    } catch (error) {
      // A report that cannot be queued must not take the run (or the agent) down with it.
      this.log.error(`stress run ${report.runId}: cannot send report ${report.seq}: ${errorMessage(error)}`);
    }
  }

  private stop(payload: unknown): void {
    const parsed = ZStressStop.safeParse(payload);
    if (!parsed.success) {
      this.log.error(`ignoring an unreadable stress:stop: ${describeZodError(parsed.error)}`);
      return;
    }
    const run = this.runs.get(parsed.data.runId);
    if (!run) return;
    this.log.info(
      `stress run ${parsed.data.runId}: stopped by the server (${parsed.data.reason || 'no reason'})`,
    );
    run.stop();
  }

  private remember(runId: string): void {
    this.finished.add(runId);
    if (this.finished.size > REMEMBERED_RUNS) {
      this.finished.delete(this.finished.values().next().value as string);
    }
  }

  private sendEndpoints(): void {
    const socket = this.socket;
    if (!socket?.connected) return;
    const payload = ZAgentEndpoints.safeParse({ endpoints: this.directory.list().slice(0, MAX_ENDPOINTS) });
    if (!payload.success) {
      this.log.error(`cannot announce stress endpoints: ${describeZodError(payload.error)}`);
      return;
    }
    socket.emit('endpoints', payload.data, (reply: unknown) => {
      const answer = reply as { ok?: unknown; error?: unknown } | null;
      if (answer?.ok === false) {
        this.log.error(
          `the server refused this node's stress endpoints: ${describeRefusal(answer.error).message}`,
        );
      }
    });
  }
}

function describeLoad({ load, share }: StressAssignment): string {
  const pct = `${Math.round(share * 1000) / 10} %`;
  if (load.kind === 'closed') {
    return `closed loop, ${Math.max(1, Math.ceil(load.concurrency * share))} workers (${pct} of ${load.concurrency}) for ${load.durationS} s`;
  }
  const seconds = load.stages.reduce((sum, stage) => sum + stage.durationS, 0);
  return `open loop, ${load.arrival} arrivals, ${pct} of ${load.stages.length} stage(s) over ${seconds} s`;
}
