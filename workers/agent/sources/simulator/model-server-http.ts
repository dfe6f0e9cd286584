import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LatencyHistogramWire, LatencyRecorder } from '../../../../lib/latency-histogram';
import { Fifo } from '../../load/fifo';

/**
 * A simulated model server that answers real HTTP on loopback, so a stress test's requests
 * travel through sockets, queues and timers like requests to vLLM would. It has
 * `replicas × slotsPerReplica` slots; each request holds one for a service time drawn by the
 * caller (the simulator inflates it by the replica's background load) and waits in FIFO
 * order while all are taken. Any method and path answers 200 with a small JSON body; past
 * `maxQueue` waiting requests it answers 503 at once, as an overloaded server would.
 */

export type SimulatedModelServerOptions = {
  deploymentName: string;
  replicas: number;
  /** Requests one replica works on at once. */
  slotsPerReplica: number;
  /** Draws one request's service time, ms. */
  serviceTimeMs: () => number;
  /** Waiting requests beyond which new ones are refused with 503. */
  maxQueue?: number;
};

/** What the server did since the last call to takeInterval(). */
export type ModelServerInterval = {
  /** Requests that arrived. */
  arrivals: number;
  /** Requests answered (200 and 503 alike). */
  completed: number;
  /** Requests refused with 503. */
  errors: number;
  /** Requests waiting for a slot right now. */
  queued: number;
  /** Server-side latency (arrival to answer) of the requests answered, ms. */
  latencyMs: LatencyHistogramWire;
};

type Job = { res: ServerResponse; arrivedAt: number };

const DEFAULT_MAX_QUEUE = 10_000;

export class SimulatedModelServer {
  private readonly server: Server;
  private readonly slotsPerReplica: number;
  private readonly serviceTimeMs: () => number;
  private readonly maxQueue: number;
  private readonly okBody: Buffer;
  private readonly busyBody = Buffer.from('{"error":{"message":"server overloaded","type":"overloaded"}}');
  private replicaCount: number;
  private busy = 0;
  private readonly queue = new Fifo<Job>();
  private stalledUntil = 0;
  private port = 0;
  private starting: Promise<void> | null = null;
  private closed = false;

  private arrivals = 0;
  private completed = 0;
  private errors = 0;
  private readonly recorder = new LatencyRecorder();

  constructor(options: SimulatedModelServerOptions) {
    this.replicaCount = Math.max(0, Math.floor(options.replicas));
    this.slotsPerReplica = Math.max(1, Math.floor(options.slotsPerReplica));
    this.serviceTimeMs = options.serviceTimeMs;
    this.maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.okBody = Buffer.from(
      JSON.stringify({
        object: 'text_completion',
        model: options.deploymentName,
        choices: [{ index: 0, text: 'ok', finish_reason: 'stop' }],
      }),
    );
    this.server = createServer(this.onRequest);
    // Never the reason a process stays up: its owner closes it, or the process exits.
    this.server.unref();
  }

  /** Listens on 127.0.0.1 at a free port. */
  start(): Promise<void> {
    this.starting ??= new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
    return this.starting;
  }

  /** Base URL once listening, e.g. http://127.0.0.1:41234; null before. */
  get url(): string | null {
    return this.port > 0 && !this.closed ? `http://127.0.0.1:${this.port}` : null;
  }

  get replicas(): number {
    return this.replicaCount;
  }

  get slots(): number {
    return this.replicaCount * this.slotsPerReplica;
  }

  /** Requests holding a slot right now. */
  get inService(): number {
    return this.busy;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Replicas came or went: capacity follows at once; requests beyond it finish, none start. */
  setReplicas(replicas: number): void {
    this.replicaCount = Math.max(0, Math.floor(replicas));
    this.startWaiting();
  }

  /**
   * Freezes the server for `ms` (a garbage-collection pause, a stuck GPU): nothing is answered
   * until then; requests keep arriving and queueing, and those due meanwhile answer at its end.
   */
  stallFor(ms: number): void {
    this.stalledUntil = Math.max(this.stalledUntil, performance.now() + ms);
  }

  takeInterval(): ModelServerInterval {
    const interval = {
      arrivals: this.arrivals,
      completed: this.completed,
      errors: this.errors,
      queued: this.queued,
      latencyMs: this.recorder.drain(),
    };
    this.arrivals = 0;
    this.completed = 0;
    this.errors = 0;
    return interval;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.drain(() => {});
    // Closing halfway through listen() would leave the port open.
    await this.starting?.catch(() => {});
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    this.arrivals++;
    const job: Job = { res, arrivedAt: performance.now() };
    if (this.busy < this.slots && this.queued === 0) this.serve(job);
    else if (this.queued >= this.maxQueue) this.answer(job, 503, this.busyBody);
    else this.queue.push(job);
  };

  private serve(job: Job): void {
    this.busy++;
    setTimeout(this.finish, Math.max(0, this.serviceTimeMs()), job);
  }

  private readonly finish = (job: Job): void => {
    if (this.closed) return;
    const wait = this.stalledUntil - performance.now();
    if (wait > 0) {
      setTimeout(this.finish, wait, job);
      return;
    }
    this.busy--;
    this.answer(job, 200, this.okBody);
    this.startWaiting();
  };

  private answer(job: Job, status: number, body: Buffer): void {
    // The body is never read: Node discards what is left of it once the answer is sent.
    if (!job.res.destroyed) {
      job.res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
      job.res.end(body);
    }
    this.completed++;
    if (status !== 200) this.errors++;
    this.recorder.record(performance.now() - job.arrivedAt);
  }

  private startWaiting(): void {
    while (this.busy < this.slots && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      // A client that gave up while waiting is not served.
      if (!job.res.destroyed) this.serve(job);
    }
  }
}
