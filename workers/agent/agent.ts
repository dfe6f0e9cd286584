import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  AGENT_PROTOCOL_VERSION,
  type AgentToServerEvents,
  type AllocationCommandAck,
  type ServerToAgentEvents,
  ZEnrollRequest,
  ZInventory,
} from '../../lib/protocol/agent';
import { runApplyHook } from './allocation-apply';
import { Backoff, sleep } from './backoff';
import {
  CREDENTIAL_FILE,
  ensureDataDir,
  readAgentState,
  readCredential,
  STATE_FILE,
  writeAgentState,
  writeCredential,
} from './data-dir';
import { EnrollmentRefusedError, enrollNode } from './enrollment';
import { DEFAULT_BUFFER_CAPACITY, FrameBuffer } from './frame-buffer';
import { FRAMES_FILE, FrameJournal } from './frame-journal';
import { type ConfiguredEndpoint, EndpointDirectory } from './load/endpoint-directory';
import { StressRuns } from './load/stress-runs';
import { type AgentLog, errorMessage } from './log';
import { ServerList } from './server-list';
import {
  describeZodError,
  ZAllocationCommand,
  ZAssignments,
  ZInventoryAck,
  ZTelemetryAck,
} from './server-replies';
import type { TelemetrySample, TelemetrySource } from './sources/source';
import { buildTelemetryFrame } from './telemetry-frame';
import { AGENT_VERSION } from './version';

type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** How often an agent whose credential was refused looks for a new one in credential.json. */
const CREDENTIAL_WATCH_MS = 2_000;
/**
 * Reconnects and enrollment retries back off with full jitter from 250 ms up to 10 s (see
 * Backoff): quick after a blip, and spread out when a server dies under thousands of agents.
 */
export const RETRY_BASE_MS = 250;
export const RETRY_CAP_MS = 10_000;

export type AgentOptions = {
  /**
   * Base URL of the Switchyard server, e.g. http://localhost:3000; or several (an array, or
   * separated by commas), tried in order: the agent moves to the next after a failed attempt.
   */
  serverUrl: string | readonly string[];
  hostname: string;
  /** Holds credential.json, state.json and frames.jsonl; one directory per agent. */
  dataDir: string;
  /** Needed on first start, and to enroll again if the server no longer accepts the credential. */
  enrollmentToken?: string;
  /** A node credential to use instead of credential.json. */
  credential?: string;
  intervalMs: number;
  source: TelemetrySource;
  log: AgentLog;
  /** Unacknowledged frames kept; the oldest are dropped beyond it. */
  bufferCapacity?: number;
  /**
   * Keep unacknowledged frames in `frames.jsonl` too, so a restarted agent still delivers
   * them (default true).
   */
  persistFrames?: boolean;
  /** How often the frame journal is flushed to disk (fsync); see FrameJournal. */
  journalFsyncIntervalMs?: number;
  agentVersion?: string;
  labels?: Record<string, string>;
  /** How long to wait for the server to acknowledge a message before starting over. */
  ackTimeoutMs?: number;
  stateSaveIntervalMs?: number;
  /** Frames sent and not yet acknowledged at once; bounds the burst of a large replay. */
  maxInFlight?: number;
  /** On stop, how long to wait for outstanding acknowledgements while connected. */
  drainOnStopMs?: number;
  /** How long one connection attempt may take (socket.io handshake included) before it counts as failed. */
  connectTimeoutMs?: number;
  /** How long an enrollment request may take before it is tried again (on the next server). */
  requestTimeoutMs?: number;
  /** Random numbers for the reconnect backoff's jitter (tests pass their own). */
  random?: () => number;
  /**
   * Shell command run for each allocation change before the agent confirms it (JSON on
   * stdin; non-zero exit = failed, and the server rolls the change back). See allocation-apply.ts.
   */
  applyHook?: string;
  /** Inference endpoints for stress tests (`--endpoint name=url`), besides the source's own. */
  endpoints?: ConfiguredEndpoint[];
};

export type AgentStats = {
  /** Seq of the newest frame built (0 before the first). */
  seq: number;
  /** Frames not yet acknowledged. */
  buffered: number;
  /** Frames lost because the buffer was full. */
  dropped: number;
  /** Unacknowledged frames a previous run left in frames.jsonl, picked up at start. */
  restored: number;
  /** Frames the server acknowledged (stored, or already held). */
  acked: number;
  /** Frames the server refused as invalid; they are not retried. */
  rejected: number;
  /** Connected, with the inventory acknowledged: frames are flowing. */
  connected: boolean;
};

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * One node agent: enrolls, keeps a socket.io connection to the server's agent namespace,
 * and streams a telemetry frame per interval from its source. Every frame is buffered until
 * the server acknowledges it, and replayed in order after a reconnect, so an outage loses
 * nothing while it fits in the buffer.
 *
 * Holds no process-wide state, so one process can run many (the fleet simulator does).
 */
export class Agent {
  private readonly servers: ServerList;
  private readonly options: AgentOptions;
  private readonly log: AgentLog;
  private readonly buffer: FrameBuffer;
  private readonly agentVersion: string;
  private readonly ackTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly backoff: Backoff;
  private readonly connectTimeoutMs: number;
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly stress: StressRuns;

  private phase: Phase = 'new';
  private stopping: Promise<void> | null = null;
  private nodeCredential: string | null = null;
  private socket: AgentSocket | null = null;

  private nextSeq = 1;
  private stateLoaded = false;
  private savedNextSeq = 0;
  private saving: Promise<void> = Promise.resolve();
  private nextSampleAt = 0;

  /** Bumped on every connect; replies from an older connection must not steer the current one. */
  private epoch = 0;
  private ready = false;
  /** Highest seq sent on the current connection: frames go out strictly in order after it. */
  private sentThrough = 0;
  /** No frame is sent before this time (RATE_LIMITED asked to wait). */
  private pausedUntil = 0;
  /** Highest seq ever sent; frames above it have never left this process. */
  private highestSentSeq = 0;
  private inFlight = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Ends a connection attempt that neither connects nor fails (a server that hangs). */
  private attemptTimer: NodeJS.Timeout | null = null;
  /**
   * The last attempt on the current server failed, or the server said it is going away: the
   * next attempt goes to the next server of the list. A connection that was working and
   * dropped is first retried where it was, since a blip is likelier than a dead server.
   */
  private moveOn = false;
  private stateTimer: NodeJS.Timeout | null = null;
  /** One re-enrollment per refusal: cleared again once a connection succeeds. */
  private mayReenroll = true;
  /**
   * The credential the server revoked or refuses: never presented again. The agent waits
   * for a different one to appear in credential.json (written by `--rotate-credential`, or
   * by an enrollment with a replacement token).
   */
  private refusedCredential: string | null = null;
  private credentialWatch: NodeJS.Timeout | null = null;
  /** The last connection error logged per server, so a retry loop logs each problem once. */
  private readonly connectErrors = new Map<string, string>();
  private warnedBufferFull = false;
  /** Drops already told in the log. */
  private droppedLogged = 0;
  private restoredCount = 0;

  private ackedCount = 0;
  private rejectedCount = 0;

  constructor(options: AgentOptions) {
    const hostname = ZEnrollRequest.shape.hostname.safeParse(options.hostname);
    if (!hostname.success) throw new RangeError(`hostname: ${describeZodError(hostname.error)}`);
    if (!Number.isInteger(options.intervalMs) || options.intervalMs < 100 || options.intervalMs > 60_000) {
      throw new RangeError('intervalMs must be an integer from 100 to 60000');
    }
    this.options = options;
    this.servers = new ServerList(options.serverUrl);
    this.backoff = new Backoff(RETRY_BASE_MS, RETRY_CAP_MS, options.random);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.log = options.log;
    this.buffer = new FrameBuffer(options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY);
    this.agentVersion = options.agentVersion ?? AGENT_VERSION;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.maxInFlight = options.maxInFlight ?? 64;
    this.stress = new StressRuns({
      log: options.log,
      directory: new EndpointDirectory(options.source, options.endpoints),
      ackTimeoutMs: this.ackTimeoutMs,
    });
  }

  /**
   * Loads or obtains the credential, connects and starts sampling. Resolves once the agent
   * is running (not necessarily connected); rejects when it cannot run at all, e.g. when
   * enrollment is refused or there is neither a credential nor a token.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error('an Agent can only be started once');
    this.phase = 'starting';
    try {
      await ensureDataDir(this.options.dataDir);
      this.nextSeq = await this.loadNextSeq();
      if (this.options.persistFrames ?? true) this.restoreFrames();
      this.savedNextSeq = this.nextSeq;
      this.stateLoaded = true;
      this.nodeCredential = await this.obtainCredential();
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.phase = 'stopped';
      throw error;
    }
    if (this.phase !== 'starting') return;
    this.phase = 'running';
    this.connect();
    this.scheduleSample();
    this.stateTimer = setInterval(() => void this.saveState(), this.options.stateSaveIntervalMs ?? 10_000);
  }

  /** Stops sampling, waits briefly for outstanding acks, closes the socket and saves state. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  stats(): AgentStats {
    return {
      seq: this.nextSeq - 1,
      buffered: this.buffer.size,
      dropped: this.buffer.dropped,
      restored: this.restoredCount,
      acked: this.ackedCount,
      rejected: this.rejectedCount,
      connected: this.ready,
    };
  }

  /**
   * A lost or damaged state.json is not fatal: numbering restarts at 1 and the first
   * inventory reply moves it above everything the server holds (see reconcileWithServer).
   */
  private async loadNextSeq(): Promise<number> {
    try {
      return (await readAgentState(this.options.dataDir))?.nextSeq ?? 1;
    } catch (error) {
      this.log.warn(`${errorMessage(error)}; numbering continues from the server's last seq`);
      return 1;
    }
  }

  /**
   * Takes back the frames a previous run had not delivered. They may have been sent before
   * that run ended, so they count as sent: the first inventory reply then says which the
   * server already holds, and only the rest are replayed, under their own numbers.
   */
  private restoreFrames(): void {
    const journal = new FrameJournal(
      join(this.options.dataDir, FRAMES_FILE),
      this.options.journalFsyncIntervalMs,
    );
    let restored: ReturnType<FrameBuffer['restore']>;
    try {
      restored = this.buffer.restore(journal, this.log);
    } catch (error) {
      this.log.error(
        `cannot read ${journal.path}: ${errorMessage(error)}; unacknowledged frames from before are lost`,
      );
      return;
    }
    this.restoredCount = restored.frames;
    this.highestSentSeq = this.buffer.newestSeq;
    this.nextSeq = Math.max(this.nextSeq, restored.highWater + 1);
    if (restored.unreadable > 0) {
      this.log.warn(`${journal.path}: skipped ${restored.unreadable} unreadable lines (a write cut short)`);
    }
    if (restored.frames > 0) {
      const oldest = this.buffer.firstAfter(0)?.seq;
      this.log.info(
        `restored ${restored.frames} unacknowledged frames (seq ${oldest}–${this.buffer.newestSeq}) from ${FRAMES_FILE}`,
      );
    }
  }

  /** Says in the log how many frames were dropped since it last said so. */
  private logDrops(): void {
    const dropped = this.buffer.dropped - this.droppedLogged;
    if (dropped <= 0) return;
    this.droppedLogged = this.buffer.dropped;
    this.log.warn(
      `${dropped} frames were dropped because the buffer was full (${this.buffer.dropped} in all)`,
    );
  }

  // --- Credentials ---------------------------------------------------------------------

  private async obtainCredential(): Promise<string> {
    if (this.options.credential) return this.options.credential;
    try {
      const stored = await readCredential(this.options.dataDir);
      if (stored) return stored.nodeCredential;
    } catch (error) {
      if (!this.options.enrollmentToken) throw error;
      this.log.warn(`${errorMessage(error)}; enrolling again`);
    }
    return this.enroll();
  }

  /** Enrolls with the token, retrying while the server is unreachable; a refusal is final. */
  private async enroll(): Promise<string> {
    const { enrollmentToken, dataDir, hostname } = this.options;
    if (!enrollmentToken) {
      throw new Error(
        `no node credential in ${join(dataDir, CREDENTIAL_FILE)} and no enrollment token to get one`,
      );
    }
    const request = ZEnrollRequest.safeParse({
      enrollmentToken,
      hostname,
      agentVersion: this.agentVersion,
      labels: this.options.labels ?? {},
    });
    if (!request.success) throw new Error(`cannot enroll: ${describeZodError(request.error)}`);

    const retry = new Backoff(RETRY_BASE_MS, RETRY_CAP_MS, this.options.random);
    for (;;) {
      const serverUrl = this.servers.current;
      try {
        // A server that takes the request and never answers must not hold the agent forever.
        const signal = AbortSignal.any([
          this.abort.signal,
          AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000),
        ]);
        const enrolled = await enrollNode(serverUrl, request.data, signal);
        await writeCredential(dataDir, {
          ...enrolled,
          // The whole list, so that --rotate-credential tries every server too.
          serverUrl: this.servers.toString(),
          hostname,
          enrolledAt: new Date().toISOString(),
        });
        this.log.info(`enrolled as node ${enrolled.nodeId} in cluster ${enrolled.clusterName}`);
        return enrolled.nodeCredential;
      } catch (error) {
        if (error instanceof EnrollmentRefusedError) {
          const field = error.field ? ` (field: ${error.field})` : '';
          // Every server of a cluster shares one database: a refusal by one is everyone's.
          throw new Error(`enrollment refused by ${serverUrl}: ${error.message}${field}`);
        }
        if (this.abort.signal.aborted) throw error;
        const delay = retry.next();
        const next = this.servers.advance();
        const where = next === serverUrl ? '' : ` at ${next}`;
        this.log.warn(
          `cannot enroll at ${serverUrl}: ${errorMessage(error)}; retrying${where} in ${delay} ms`,
        );
        await sleep(delay, this.abort.signal);
      }
    }
  }

  // --- Connection ----------------------------------------------------------------------
  //
  // The agent drives reconnection itself rather than leaving it to socket.io: socket.io's
  // reconnection keeps to one URL, and an agent given several servers must move to the next
  // when one fails. Every attempt is a fresh socket to the current server; when it fails or
  // a connection drops, the next attempt comes after a full-jitter backoff (Backoff).

  /** Opens a connection attempt to the current server, replacing any earlier socket. */
  private connect(): void {
    if (this.phase !== 'running') return;
    this.dropSocket();
    const serverUrl = this.servers.current;
    const socket: AgentSocket = io(`${serverUrl}${AGENT_NAMESPACE}`, {
      // A function, so an attempt after re-enrollment presents the new credential.
      auth: (send) => send({ token: this.nodeCredential }),
      transports: ['websocket'],
      // Never reuse a cached socket.io Manager: each agent authenticates as its own node and
      // must fail, back off and reconnect independently of the others in the process.
      forceNew: true,
      reconnection: false,
      timeout: this.connectTimeoutMs,
    });
    this.socket = socket;
    // Events of a socket this agent has since replaced or dropped steer nothing.
    const current = () => socket === this.socket && this.phase === 'running';
    this.attemptTimer = setTimeout(() => {
      this.attemptTimer = null;
      if (current() && !socket.connected) this.attemptFailed(serverUrl, 'no answer in time');
    }, this.connectTimeoutMs);
    socket.on('connect', () => {
      if (!current()) return;
      this.clearAttemptTimer();
      this.onConnect(socket);
    });
    socket.on('connect_error', (error) => {
      if (current()) void this.onConnectError(socket, serverUrl, error);
    });
    socket.on('disconnect', (reason) => {
      if (socket === this.socket) this.onDisconnect(reason);
    });
    socket.on('assignments', (assignments) => this.applyAssignments(assignments));
    this.stress.listen(socket);
    socket.on('allocation:apply', (command, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      void this.applyAllocation(command).then(reply);
    });
    socket.on('shutdown', (notice) => {
      this.log.info(`server is shutting down (${String(notice?.reason)}); will reconnect`);
      // It is going away on purpose: start with the next server rather than knock on this one.
      if (current()) this.moveOn = true;
    });
    socket.on('revoked', (notice) => {
      // Deliberate (rotated, replaced by a new agent, removed): enrolling again with a token
      // would undo it, so only a new credential on disk brings this agent back.
      this.log.error(`the server revoked this node credential: ${String(notice?.reason)}`);
      this.mayReenroll = false;
      this.credentialRefused();
    });
    socket.on('replaced', (notice) => {
      // Two agents with one credential would take turns replacing each other: say so loudly.
      this.log.error(`${String(notice?.reason)}; is another agent running with this data directory?`);
    });
  }

  /** Forgets the current socket (its events are ignored from now on) and closes it. */
  private dropSocket(): void {
    this.clearAttemptTimer();
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    socket?.disconnect();
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = null;
  }

  private onConnect(socket: AgentSocket): void {
    this.epoch++;
    this.ready = false;
    this.sentThrough = 0;
    this.inFlight = 0;
    this.connectErrors.clear();
    void this.sendInventory(socket, this.epoch);
  }

  /** An attempt on `serverUrl` failed without a word from the server: try the next one, later. */
  private attemptFailed(serverUrl: string, message: string): void {
    if (this.connectErrors.get(serverUrl) !== message) {
      this.connectErrors.set(serverUrl, message);
      this.log.warn(`cannot connect to ${serverUrl}${AGENT_NAMESPACE}: ${message}`);
    }
    this.moveOn = true;
    this.dropSocket();
    this.scheduleConnect();
  }

  private async onConnectError(socket: AgentSocket, serverUrl: string, error: Error): Promise<void> {
    if (error.message !== 'UNAUTHORIZED') {
      // Unreachable, a handshake cut short, or refused for a while (RATE_LIMITED).
      this.attemptFailed(serverUrl, error.message);
      return;
    }
    this.clearAttemptTimer();
    if (this.connectErrors.get(serverUrl) !== error.message) {
      this.connectErrors.set(serverUrl, error.message);
      this.log.warn(`cannot connect to ${serverUrl}${AGENT_NAMESPACE}: ${error.message}`);
    }
    // Every server shares one database: a credential one refuses, all refuse. Stay here.
    // Rotated by `--rotate-credential` in another process: the new one is on disk.
    if (await this.adoptStoredCredential()) {
      if (socket === this.socket) this.connect();
      return;
    }
    if (this.options.enrollmentToken && this.mayReenroll) {
      this.mayReenroll = false;
      this.log.warn('the server no longer accepts this node credential; enrolling again');
      try {
        // The refused credential stays on disk until a new one replaces it atomically.
        this.nodeCredential = await this.enroll();
        if (socket === this.socket) this.connect();
        return;
      } catch (enrollError) {
        if (this.phase !== 'running') return;
        this.log.error(`enrolling again failed: ${errorMessage(enrollError)}`);
      }
    }
    this.credentialRefused();
  }

  /**
   * Stops presenting the current credential (it would only be refused again, forever) and
   * checks credential.json every few seconds for a different one.
   */
  private credentialRefused(): void {
    if (this.phase !== 'running' || this.nodeCredential === null) return;
    if (this.refusedCredential !== this.nodeCredential) {
      this.refusedCredential = this.nodeCredential;
      this.log.error(
        `not connecting with a refused node credential; waiting for a new one in ${join(this.options.dataDir, CREDENTIAL_FILE)} ` +
          '(run the agent with --rotate-credential from a machine whose credential still works, or ask an admin for a replacement token and start the agent with --token)',
      );
    }
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.credentialWatch) return;
    this.credentialWatch = setInterval(() => {
      void this.adoptStoredCredential().then((adopted) => {
        if (adopted && this.phase === 'running' && !this.socket?.connected) this.connect();
      });
    }, CREDENTIAL_WATCH_MS);
  }

  /** Takes a credential from credential.json that differs from the current and refused ones. */
  private async adoptStoredCredential(): Promise<boolean> {
    if (this.options.credential) return false;
    let stored: Awaited<ReturnType<typeof readCredential>>;
    try {
      stored = await readCredential(this.options.dataDir);
    } catch {
      return false; // Half-written or damaged: look again next time.
    }
    const candidate = stored?.nodeCredential;
    if (!candidate || candidate === this.nodeCredential || candidate === this.refusedCredential) return false;
    this.nodeCredential = candidate;
    if (this.credentialWatch) clearInterval(this.credentialWatch);
    this.credentialWatch = null;
    this.log.info(`using the new node credential from ${CREDENTIAL_FILE}`);
    return true;
  }

  private onDisconnect(reason: string): void {
    const wasReady = this.ready;
    this.ready = false;
    if (this.phase !== 'running') return;
    this.log.warn(`disconnected (${reason})${wasReady ? `; ${this.buffer.size} frames buffered` : ''}`);
    this.scheduleConnect();
  }

  /** Drops the connection and connects again after a backoff delay: the way to start over. */
  private reconnect(): void {
    if (this.phase !== 'running') return;
    this.dropSocket();
    this.scheduleConnect();
  }

  /**
   * The next connection attempt, after a full-jitter backoff delay; on the next server of
   * the list when the last attempt failed.
   */
  private scheduleConnect(): void {
    if (this.reconnectTimer || this.phase !== 'running') return;
    // A revoked credential is never presented again; credentialRefused() watches for a new one.
    if (this.nodeCredential === this.refusedCredential) return;
    if (this.moveOn) {
      this.moveOn = false;
      this.servers.advance();
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.phase === 'running' && !this.socket?.connected) this.connect();
    }, this.backoff.next());
  }

  private async sendInventory(socket: AgentSocket, epoch: number): Promise<void> {
    let gpus: unknown;
    try {
      gpus = await this.options.source.inventory();
    } catch (error) {
      this.log.error(`the source could not list GPUs: ${errorMessage(error)}`);
      this.retryInventory(socket, epoch);
      return;
    }
    if (epoch !== this.epoch || !socket.connected) return;
    const inventory = ZInventory.safeParse({
      protocolVersion: AGENT_PROTOCOL_VERSION,
      hostname: this.options.hostname,
      agentVersion: this.agentVersion,
      gpus,
    });
    if (!inventory.success) {
      this.log.error(`the source's inventory is invalid: ${describeZodError(inventory.error)}`);
      this.retryInventory(socket, epoch);
      return;
    }
    socket
      .timeout(this.ackTimeoutMs)
      .emit('inventory', inventory.data, (error, reply) => this.onInventoryAck(socket, epoch, error, reply));
  }

  private retryInventory(socket: AgentSocket, epoch: number): void {
    this.later(this.backoff.next(), () => {
      if (epoch === this.epoch && socket.connected) void this.sendInventory(socket, epoch);
    });
  }

  private onInventoryAck(socket: AgentSocket, epoch: number, error: Error | null, reply: unknown): void {
    if (epoch !== this.epoch || this.phase !== 'running') return;
    if (error) {
      // A dropped connection fails its pending acknowledgements; onDisconnect has that in hand.
      if (!socket.connected) return;
      this.log.warn(`the server did not acknowledge the inventory (${error.message}); reconnecting`);
      this.reconnect();
      return;
    }
    const parsed = ZInventoryAck.safeParse(reply);
    if (!parsed.success) {
      this.log.error(`unreadable inventory reply (${describeZodError(parsed.error)}); reconnecting`);
      this.reconnect();
      return;
    }
    const ack = parsed.data;
    if (!ack.ok) {
      this.log.error(`the server refused the inventory: ${ack.error.message}`);
      this.retryInventory(socket, epoch);
      return;
    }
    this.backoff.reset();
    this.mayReenroll = true;
    this.options.source.applyAssignments(ack.assignments);
    this.stress.applyAssignments(ack.assignments);
    const replaying = this.reconcileWithServer(ack.lastSeq);
    this.ready = true;
    this.stress.ready(socket);
    this.logDrops();
    // With several servers, say which one: the log then shows a failover.
    const via = this.servers.size > 1 ? ` at ${this.servers.current}` : '';
    this.log.info(
      `connected${via} as node ${ack.nodeId}; server holds seq ≤ ${ack.lastSeq}; replaying ${replaying} frames`,
    );
    this.pump();
  }

  /**
   * Lines the buffer and the seq counter up with what the server already stores, and
   * returns how many buffered frames remain to send.
   */
  private reconcileWithServer(lastSeq: number): number {
    const firstUnsent = this.buffer.firstAfter(this.highestSentSeq);
    if (firstUnsent && firstUnsent.seq <= lastSeq) {
      // These frames were numbered before this process learnt the server's history (after a
      // crash, state.json can lag behind what was sent). The server holds different frames
      // under those numbers, so these get new ones rather than being taken for duplicates.
      this.ackedCount += this.buffer.discardThrough(this.highestSentSeq);
      const renumbered = this.buffer.size;
      this.nextSeq = this.buffer.renumberFrom(lastSeq + 1);
      this.log.warn(`renumbered ${renumbered} unsent frames from seq ${lastSeq + 1}`);
    } else {
      this.ackedCount += this.buffer.discardThrough(lastSeq);
    }
    this.nextSeq = Math.max(this.nextSeq, lastSeq + 1);
    return this.buffer.size;
  }

  private applyAssignments(assignments: unknown): void {
    const parsed = ZAssignments.safeParse(assignments);
    if (!parsed.success) {
      this.log.error(`ignoring unreadable assignments: ${describeZodError(parsed.error)}`);
      return;
    }
    this.options.source.applyAssignments(parsed.data);
    this.stress.applyAssignments(parsed.data);
  }

  /** Carries out an allocation change: the apply hook first (if any), then the new routing. */
  private async applyAllocation(command: unknown): Promise<AllocationCommandAck> {
    const parsed = ZAllocationCommand.safeParse(command);
    if (!parsed.success) {
      const error = `unreadable allocation command: ${describeZodError(parsed.error)}`;
      this.log.error(error);
      return { ok: false, error };
    }
    const { changeId, rollback } = parsed.data;
    if (this.options.applyHook) {
      const result = await runApplyHook(this.options.applyHook, parsed.data);
      if (!result.ok) {
        this.log.error(
          `allocation change ${changeId}${rollback ? ' (rollback)' : ''} failed: ${result.error}`,
        );
        return result;
      }
    }
    try {
      this.options.source.applyAssignments(parsed.data.assignments);
      this.stress.applyAssignments(parsed.data.assignments);
    } catch (error) {
      // A source that cannot re-route fails the change (the server rolls it back); it must
      // never become an unhandled rejection that ends the agent.
      const message = `could not apply the new assignments: ${errorMessage(error)}`;
      this.log.error(`allocation change ${changeId}: ${message}`);
      return { ok: false, error: message };
    }
    this.log.info(`applied allocation change ${changeId}${rollback ? ' (rollback)' : ''}`);
    return { ok: true };
  }

  // --- Telemetry -----------------------------------------------------------------------

  private scheduleSample(): void {
    const now = Date.now();
    const { intervalMs } = this.options;
    this.nextSampleAt = this.nextSampleAt === 0 ? now + intervalMs : this.nextSampleAt + intervalMs;
    // After a slow sample or a stalled event loop, skip the missed ticks instead of bunching them.
    if (this.nextSampleAt <= now)
      this.nextSampleAt = now + intervalMs - ((now - this.nextSampleAt) % intervalMs);
    this.later(this.nextSampleAt - now, () => void this.takeSample());
  }

  private async takeSample(): Promise<void> {
    if (this.phase !== 'running') return;
    try {
      this.enqueue(await this.options.source.sample(this.options.intervalMs));
    } catch (error) {
      this.log.error(`the source failed to sample: ${errorMessage(error)}`);
    }
    if (this.phase === 'running') this.scheduleSample();
  }

  private enqueue(sample: TelemetrySample): void {
    const built = buildTelemetryFrame(this.nextSeq, this.options.intervalMs, sample);
    if (!built.success) {
      this.log.error(`dropping an invalid sample from the source: ${describeZodError(built.error)}`);
      return;
    }
    this.nextSeq++;
    const droppedBefore = this.buffer.dropped;
    this.buffer.push(built.data);
    if (this.buffer.dropped > droppedBefore && !this.warnedBufferFull) {
      this.warnedBufferFull = true;
      this.log.warn(
        `buffer full (${this.buffer.capacity} frames): dropping the oldest until the server catches up`,
      );
    } else if (this.buffer.size < this.buffer.capacity) {
      this.warnedBufferFull = false;
      this.logDrops();
    }
    this.pump();
  }

  /** Holds back sending for `ms` (the server asked for it with RATE_LIMITED). */
  private pauseSending(ms: number): void {
    const until = Date.now() + Math.min(Math.max(ms, 10), 60_000);
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.later(until - Date.now(), () => this.pump());
  }

  /** Sends buffered frames after `sentThrough`, in seq order, up to `maxInFlight` at a time. */
  private pump(): void {
    const socket = this.socket;
    if (!this.ready || !socket?.connected || Date.now() < this.pausedUntil) return;
    const epoch = this.epoch;
    while (this.inFlight < this.maxInFlight) {
      const frame = this.buffer.firstAfter(this.sentThrough);
      if (!frame) return;
      const { seq } = frame;
      this.sentThrough = seq;
      this.highestSentSeq = Math.max(this.highestSentSeq, seq);
      this.inFlight++;
      socket
        .timeout(this.ackTimeoutMs)
        .emit('telemetry', frame, (error, reply) => this.onTelemetryAck(epoch, seq, error, reply));
    }
  }

  private onTelemetryAck(epoch: number, seq: number, error: Error | null, reply: unknown): void {
    const current = epoch === this.epoch;
    if (current) this.inFlight--;
    if (error) {
      // A lost ack leaves a gap we cannot fill in order on this connection: start over,
      // and the inventory reply says where the server stands.
      if (current && this.ready) {
        this.log.warn(`no acknowledgement for frame ${seq} (${error.message}); reconnecting to replay`);
        this.reconnect();
      }
      return;
    }
    const parsed = ZTelemetryAck.safeParse(reply);
    if (!parsed.success) {
      this.log.error(`unreadable acknowledgement for frame ${seq} (${describeZodError(parsed.error)})`);
      if (current) this.reconnect();
      return;
    }
    const ack = parsed.data;
    if (ack.ok) {
      if (this.buffer.acknowledge(seq)) this.ackedCount++;
    } else if (ack.error.code === 'BAD_FRAME' || ack.error.code === 'FORBIDDEN') {
      // Sending it again would be refused again; the message names the field at fault.
      if (this.buffer.acknowledge(seq)) this.rejectedCount++;
      this.log.error(`the server refused frame ${seq}: ${ack.error.message}`);
    } else if (ack.error.code === 'RATE_LIMITED') {
      // Over this connection's budget: keep the frame, pause, and resend from it in order
      // (the server refuses every later frame until this one comes back).
      this.sentThrough = Math.min(this.sentThrough, seq - 1);
      if (current) this.pauseSending(ack.error.retryAfterMs ?? 1000);
      return;
    } else {
      // NOT_READY or INTERNAL: the server may store it later, so keep it and replay.
      if (current && this.ready) {
        this.log.warn(
          `the server could not store frame ${seq} (${ack.error.message}); reconnecting to replay`,
        );
        this.reconnect();
      }
      return;
    }
    if (current) this.pump();
  }

  // --- State and shutdown ----------------------------------------------------------------

  /** Saves `{ nextSeq }`; writes are chained so an older value never lands after a newer one. */
  private saveState(): Promise<void> {
    this.saving = this.saving.then(async () => {
      const nextSeq = this.nextSeq;
      if (!this.stateLoaded || nextSeq === this.savedNextSeq) return;
      try {
        await writeAgentState(this.options.dataDir, { nextSeq });
        this.savedNextSeq = nextSeq;
      } catch (error) {
        this.log.warn(`cannot save ${STATE_FILE}: ${errorMessage(error)}`);
      }
    });
    return this.saving;
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.phase === 'running';
    this.phase = 'stopping';
    this.abort.abort(new Error('agent stopped'));
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.stateTimer) clearInterval(this.stateTimer);
    if (this.credentialWatch) clearInterval(this.credentialWatch);
    this.credentialWatch = null;
    this.reconnectTimer = null;
    this.stateTimer = null;
    // Stress runs end first, so their last reports leave on the open connection.
    await this.stress.close();

    if (wasRunning && this.ready && this.buffer.size > 0) {
      await this.waitUntil(() => this.buffer.size === 0 || !this.ready, this.options.drainOnStopMs ?? 1000);
    }
    this.dropSocket();
    await this.options.source.close?.();
    await this.saveState();
    this.buffer.close();
    this.logDrops();
    this.phase = 'stopped';
    if (wasRunning)
      this.log.info(`stopped at seq ${this.nextSeq - 1}; ${this.buffer.size} frames unacknowledged`);
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private async waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && Date.now() < deadline) await sleep(20);
  }
}
