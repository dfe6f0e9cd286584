import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import {
  AGENT_NAMESPACE,
  type AgentToServerEvents,
  type Assignments,
  type ProtocolError,
  protocolErrorFromZod,
  type ServerToAgentEvents,
  type TelemetryFrame,
  ZEnrollRequest,
  ZInventory,
  ZTelemetryFrame,
} from '../../../lib/protocol/agent';

/**
 * A stand-in for the Switchyard server's agent endpoints, small enough to reason about in
 * tests: enrollment over HTTP, the /agent namespace with credential auth, inventory and
 * telemetry acks, and per-node storage keyed by seq (duplicates ignored). It can be
 * stopped and started on the same port, to play an outage.
 */

type NodeRecord = { nodeId: string; hostname: string; frames: Map<number, TelemetryFrame> };

export type FakeServerOptions = {
  enrollmentToken: string;
  assignments?: Assignments;
  /** Another server whose nodes and credentials this one shares, as two servers of one cluster share a database. */
  sharesStorageWith?: FakeAgentServer;
};

export class FakeAgentServer {
  readonly enrollmentToken: string;
  assignments: Assignments;
  /** Refuse a frame when this returns an error (to play a server that rejects or is not ready). */
  refuseFrame: (frame: TelemetryFrame) => ProtocolError | null = () => null;
  /** Store a frame but never acknowledge it when this returns true (to play a lost ack). */
  withholdAck: (frame: TelemetryFrame) => boolean = () => false;
  /** Neither store nor acknowledge frames while true (a server stuck before its database). */
  swallowFrames = false;
  /** Frames received while swallowing, in arrival order. */
  readonly swallowed: TelemetryFrame[] = [];
  readonly credentials: Map<string, NodeRecord>;
  readonly nodesByHostname: Map<string, NodeRecord>;
  enrollments = 0;
  inventories = 0;
  connections = 0;
  /** Connection attempts the credential check saw, refused ones included. */
  authAttempts = 0;
  rotations = 0;

  private io: Server | null = null;
  private port = 0;

  constructor(options: FakeServerOptions) {
    this.enrollmentToken = options.enrollmentToken;
    this.assignments = options.assignments ?? { gpus: [], deployments: [] };
    this.credentials = options.sharesStorageWith?.credentials ?? new Map();
    this.nodesByHostname = options.sharesStorageWith?.nodesByHostname ?? new Map();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Underlying (engine.io) connections: one per agent unless clients share a connection. */
  get engineConnections(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  /** Frames stored for a hostname, in seq order. */
  framesOf(hostname: string): TelemetryFrame[] {
    const node = this.nodesByHostname.get(hostname);
    return node ? [...node.frames.values()].sort((a, b) => a.seq - b.seq) : [];
  }

  /** Forgets every credential, as a server whose database was reset would. */
  revokeCredentials(): void {
    this.credentials.clear();
  }

  /** Revokes a node's credentials as an admin would: its sockets are told `revoked` and closed. */
  revokeNode(hostname: string, reason = 'credentials revoked by an admin'): void {
    for (const [credential, node] of this.credentials) {
      if (node.hostname === hostname) this.credentials.delete(credential);
    }
    this.closeRevokedSockets(reason);
  }

  /** Closes, with a `revoked` notice, every socket whose credential is no longer known. */
  private closeRevokedSockets(reason: string): void {
    for (const socket of this.io?.of(AGENT_NAMESPACE).sockets.values() ?? []) {
      const token = (socket.handshake.auth as { token?: string }).token;
      if (token && this.credentials.has(token)) continue;
      socket.emit('revoked', { reason });
      socket.disconnect(true);
    }
  }

  /** Pretends frames up to `seq` are already stored for the host (history the agent does not know). */
  seedHistory(hostname: string, throughSeq: number): void {
    const node = this.nodesByHostname.get(hostname);
    if (!node) throw new Error(`no node ${hostname}`);
    for (let seq = 1; seq <= throughSeq; seq++) {
      node.frames.set(seq, { seq, sampledAt: 1, intervalMs: 1000, gpus: [], deployments: [] });
    }
  }

  /** Closes every agent connection from the server's side, as a network blip would. */
  dropConnections(): void {
    this.io?.of(AGENT_NAMESPACE).disconnectSockets(true);
  }

  /** Says `shutdown` to every agent and closes their connections, as a server going away does. */
  announceShutdown(): void {
    const agents = this.io?.of(AGENT_NAMESPACE);
    agents?.emit('shutdown', { reason: 'server shutting down' });
    agents?.disconnectSockets(true);
  }

  pushAssignments(assignments: Assignments): void {
    this.assignments = assignments;
    this.io?.of(AGENT_NAMESPACE).emit('assignments', assignments);
  }

  async start(): Promise<void> {
    const http = createServer((req, res) => void this.handleHttp(req, res));
    const io = new Server<AgentToServerEvents, ServerToAgentEvents>(http, { transports: ['websocket'] });
    const agents = io.of(AGENT_NAMESPACE);
    agents.use((socket, next) => {
      this.authAttempts++;
      const token = (socket.handshake.auth as { token?: unknown }).token;
      if (typeof token === 'string' && this.credentials.has(token)) next();
      else next(new Error('UNAUTHORIZED'));
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

  private async handleHttp(req: IncomingMessage, res: ServerResponse) {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === '/api/agent/rotate-credential') {
      const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const node = presented ? this.credentials.get(presented) : undefined;
      if (!presented || !node) {
        return reply(401, {
          error: { code: 'UNAUTHORIZED', message: 'node credential: unknown or revoked' },
        });
      }
      this.rotations++;
      this.credentials.delete(presented);
      const nodeCredential = `cred-${node.hostname}-rotated-${this.rotations}`;
      this.credentials.set(nodeCredential, node);
      this.closeRevokedSockets('credential rotated');
      return reply(200, {
        nodeId: node.nodeId,
        clusterId: 'cluster-1',
        clusterName: 'test-1',
        nodeCredential,
      });
    }
    if (req.method !== 'POST' || req.url !== '/api/agent/enroll') return reply(404, {});
    let body = '';
    for await (const chunk of req) body += chunk;
    const parsed = ZEnrollRequest.safeParse(JSON.parse(body || 'null'));
    if (!parsed.success) {
      const error = protocolErrorFromZod(parsed.error);
      return reply(400, { error: { code: 'BAD_REQUEST', message: error.message, field: error.field } });
    }
    if (parsed.data.enrollmentToken !== this.enrollmentToken) {
      return reply(401, {
        error: {
          code: 'UNAUTHORIZED',
          message: 'unknown or expired enrollment token',
          field: 'enrollmentToken',
        },
      });
    }
    this.enrollments++;
    const { hostname } = parsed.data;
    let node = this.nodesByHostname.get(hostname);
    if (!node) {
      node = { nodeId: `node-${this.nodesByHostname.size + 1}`, hostname, frames: new Map() };
      this.nodesByHostname.set(hostname, node);
    }
    const nodeCredential = `cred-${hostname}-${this.enrollments}`;
    this.credentials.set(nodeCredential, node);
    reply(201, { nodeId: node.nodeId, clusterId: 'cluster-1', clusterName: 'test-1', nodeCredential });
  }

  private handleAgent(socket: Socket<AgentToServerEvents, ServerToAgentEvents>): void {
    this.connections++;
    const node = this.credentials.get((socket.handshake.auth as { token: string }).token);
    if (!node) return;
    let inventoried = false;
    socket.on('inventory', (inventory, ack) => {
      const parsed = ZInventory.safeParse(inventory);
      if (!parsed.success) return ack({ ok: false, error: protocolErrorFromZod(parsed.error) });
      if (parsed.data.hostname !== node.hostname) {
        return ack({ ok: false, error: { code: 'FORBIDDEN', message: 'hostname: not this node' } });
      }
      this.inventories++;
      inventoried = true;
      const lastSeq = Math.max(0, ...node.frames.keys());
      ack({ ok: true, nodeId: node.nodeId, lastSeq, assignments: this.assignments });
    });
    socket.on('telemetry', (frame, ack) => {
      if (!inventoried)
        return ack({ ok: false, error: { code: 'NOT_READY', message: 'send inventory first' } });
      const parsed = ZTelemetryFrame.safeParse(frame);
      if (!parsed.success) return ack({ ok: false, error: protocolErrorFromZod(parsed.error) });
      if (this.swallowFrames) {
        this.swallowed.push(parsed.data);
        return;
      }
      const refusal = this.refuseFrame(parsed.data);
      if (refusal) return ack({ ok: false, error: refusal });
      const duplicate = node.frames.has(parsed.data.seq);
      if (!duplicate) node.frames.set(parsed.data.seq, parsed.data);
      if (this.withholdAck(parsed.data)) return;
      ack({ ok: true, seq: parsed.data.seq, duplicate });
    });
  }
}
