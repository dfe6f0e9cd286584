import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import {
  AGENT_NAMESPACE,
  type Assignments,
  type ProtocolError,
  ZInventory,
  ZTelemetryFrame,
} from '../../../../lib/protocol/agent';
import {
  type AgentEndpoints,
  type StressAssignment,
  type StressReport,
  type StressStartAck,
  ZAgentEndpoints,
  ZStressReport,
} from '../../../../lib/protocol/stress';

/**
 * The server's side of the agent socket, as far as stress tests need it: the agent connects
 * with a credential it is given (no enrollment), sends its inventory and telemetry (acked
 * and kept), announces its endpoints, takes `stress:start` / `stress:stop` and sends
 * `stress:report`s, which are kept by seq like the real server does (repeats ignored).
 */
export class StressTestServer {
  static readonly CREDENTIAL = 'cred-stress-test-node';
  assignments: Assignments;
  /** Endpoint announcements, in order. */
  readonly endpoints: AgentEndpoints[] = [];
  /** Reports per run, by seq. */
  readonly reports = new Map<string, Map<number, StressReport>>();
  /** Every report received, repeats included. */
  received = 0;
  /** Deployment samples of every telemetry frame, in order. */
  readonly deploymentSamples: { sampledAt: number; deploymentId: string; requests: number }[] = [];
  /** Hold report acks back (a server that does not answer). */
  withholdReportAcks = false;
  /** Refuse a report (without keeping it) when this returns an error. */
  refuseReport: (report: StressReport) => ProtocolError | null = () => null;
  connections = 0;

  private io: Server | null = null;
  private socket: Socket | null = null;
  private port = 0;

  constructor(assignments: Assignments) {
    this.assignments = assignments;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  reportsOf(runId: string): StressReport[] {
    return [...(this.reports.get(runId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  async start(): Promise<void> {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'] });
    const agents = io.of(AGENT_NAMESPACE);
    agents.use((socket, next) => {
      const { token } = socket.handshake.auth as { token?: unknown };
      next(token === StressTestServer.CREDENTIAL ? undefined : new Error('UNAUTHORIZED'));
    });
    agents.on('connection', (socket) => this.handleAgent(socket));
    await new Promise<void>((resolve) => http.listen(this.port, '127.0.0.1', resolve));
    this.port = (http.address() as AddressInfo).port;
    this.io = io;
  }

  async stop(): Promise<void> {
    const io = this.io;
    this.io = null;
    if (io) await new Promise<void>((resolve) => io.close(() => resolve()));
  }

  /** Sends `stress:start` to the connected agent; resolves with its acknowledgement. */
  startRun(assignment: StressAssignment | Record<string, unknown>): Promise<StressStartAck> {
    const socket = this.connectedSocket();
    return socket.timeout(5000).emitWithAck('stress:start', assignment);
  }

  stopRun(runId: string, reason: string): void {
    this.connectedSocket().emit('stress:stop', { runId, reason });
  }

  /** Drops the agent's connection (it reconnects by itself). */
  dropConnection(): void {
    this.connectedSocket().disconnect(true);
  }

  private connectedSocket(): Socket {
    if (!this.socket?.connected) throw new Error('no agent connected');
    return this.socket;
  }

  private handleAgent(socket: Socket): void {
    this.connections++;
    this.socket = socket;
    socket.on('inventory', (inventory, ack) => {
      const parsed = ZInventory.safeParse(inventory);
      if (!parsed.success)
        return ack({ ok: false, error: { code: 'BAD_FRAME', message: parsed.error.message } });
      ack({ ok: true, nodeId: 'node-1', lastSeq: 0, assignments: this.assignments });
    });
    socket.on('telemetry', (frame, ack) => {
      const parsed = ZTelemetryFrame.parse(frame);
      for (const sample of parsed.deployments) {
        this.deploymentSamples.push({
          sampledAt: parsed.sampledAt,
          deploymentId: sample.deploymentId,
          requests: sample.requests,
        });
      }
      ack({ ok: true, seq: parsed.seq, duplicate: false });
    });
    socket.on('endpoints', (payload, ack) => {
      this.endpoints.push(ZAgentEndpoints.parse(payload));
      if (typeof ack === 'function') ack({ ok: true });
    });
    socket.on('stress:report', (payload, ack) => {
      const report = ZStressReport.parse(payload);
      this.received++;
      if (this.withholdReportAcks) return;
      const refusal = this.refuseReport(report);
      if (refusal) return ack({ ok: false, error: refusal });
      let run = this.reports.get(report.runId);
      if (!run) {
        run = new Map();
        this.reports.set(report.runId, run);
      }
      const duplicate = run.has(report.seq);
      if (!duplicate) run.set(report.seq, report);
      ack({ ok: true, duplicate });
    });
  }
}
