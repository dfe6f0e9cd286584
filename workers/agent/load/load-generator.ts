import type { Client } from 'undici';
import { LatencyRecorder } from '../../../lib/latency-histogram';
import type { StressAssignment, StressReport } from '../../../lib/protocol/stress';
import { type ConnectionExchange, EndpointConnections } from './endpoint-connections';
import { Fifo } from './fifo';
import { type ArrivalProcess, ConstantArrivals, PoissonArrivals, RateSchedule } from './rate-schedule';

/**
 * An open-loop request that leaves more than this long after its intended send time counts
 * as `late` (a closed loop has no schedule to fall behind, so it reports none).
 * Timers and the event loop add a millisecond or two even when all is well; past 10 ms the
 * generator (or the connection limit) is holding requests back and the run says so. Late
 * requests are still measured from their intended time, so lateness never hides latency.
 */
export const LATE_TOLERANCE_MS = 10;
/**
 * Requests due within this many ms go out in the current tick. Timers cannot wake more
 * precisely than a millisecond, and sending what is due next along with what is due now
 * keeps the generator from spinning on the event loop at high rates. An early request is
 * measured from its actual send, so going early cannot flatter the numbers.
 */
export const SEND_AHEAD_MS = 1;
/** How often requests past their timeout are looked for when no send is due. */
export const TIMEOUT_CHECK_MS = 10;
/** Sends per tick before yielding to I/O, so a generator that fell behind still reads answers. */
export const MAX_SENDS_PER_TICK = 2000;
/** Report interval; the server lines agents' intervals up by `startAt`. */
export const INTERVAL_MS = 1000;
/**
 * Open-loop connection bounds per run. Connections open lazily, so a fast target needs few;
 * a slow one gets up to one per request in flight (rate × latency), which an open loop must
 * allow or it turns into a closed one. The cap keeps a stalled target from costing thousands
 * of sockets; requests past it wait in the generator and are counted late.
 */
export const MIN_OPEN_LOOP_CONNECTIONS = 8;
export const MAX_OPEN_LOOP_CONNECTIONS = 512;

export type LoadEndpoint = { url: string; replicas: number };

export type LoadGeneratorOptions = {
  assignment: StressAssignment;
  /** Where to send, weighted by replicas. */
  endpoints: readonly LoadEndpoint[];
  onReport: (report: StressReport) => void;
  /** Connections for the whole run (all endpoints); see MAX_OPEN_LOOP_CONNECTIONS. */
  maxConnections?: number;
  /** For Poisson arrivals; seeded in tests. */
  random?: () => number;
  /** Every recorded latency, ms (tests compare the histograms with the raw values). */
  onLatency?: (latencyMs: number) => void;
};

export type LoadGeneratorStats = {
  sent: number;
  completed: number;
  errors: number;
  late: number;
  /** Open loop: requests due before this agent could start (it received the run late). */
  skipped: number;
  /** Connections opened so far, over all endpoints. */
  connections: number;
  /** Requests that waited in the generator for a free connection (all connections were busy). */
  queued: number;
};

type State = 'new' | 'waiting' | 'running' | 'draining' | 'finished';

const TIMED_OUT = new Error('request timed out');
const CANCELLED = new Error('stress run stopped');

/**
 * One request. It is its own undici dispatch handler (the callback-style interface undici
 * uses internally, so no adapter is allocated per request) and stays in the generator's
 * in-flight FIFO until it is answered, fails or times out.
 */
class Exchange implements ConnectionExchange {
  settled = false;
  private status = 0;
  private client: Client | null = null;
  private connections: EndpointConnections | null = null;
  private abortRequest: ((error?: Error) => void) | null = null;

  constructor(
    private readonly run: LoadGenerator,
    /**
     * Monotonic ms the latency is measured from: the intended send time until the request is
     * written (see LoadGenerator.onWritten), so one that never leaves is measured from it too.
     */
    public measuredFrom: number,
    readonly intended: number,
    readonly deadline: number,
  ) {}

  dispatchOn(client: Client, connections: EndpointConnections): void {
    this.client = client;
    this.connections = connections;
    client.dispatch(connections.dispatchOptions, this);
  }

  /** The generator gave up on it: stop the request if it is on a connection. */
  abandon(reason: Error): void {
    this.settled = true;
    this.abortRequest?.(reason);
  }

  onConnect(abort: (error?: Error) => void): void {
    // Timed out while waiting for a connection: never send it.
    if (this.settled) {
      abort(CANCELLED);
      return;
    }
    this.abortRequest = abort;
    this.run.onWritten(this);
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.releaseConnection(false);
    if (!this.settled) this.run.onSettled(this, this.status >= 200 && this.status < 300);
  }

  onError(): void {
    // undici may still be unwinding this connection (an abort destroys the socket next).
    this.releaseConnection(true);
    if (!this.settled) this.run.onSettled(this, false);
  }

  private releaseConnection(later: boolean): void {
    const { client, connections } = this;
    if (!client || !connections) return;
    this.client = null;
    if (later) queueMicrotask(() => connections.release(client));
    else connections.release(client);
  }
}

/**
 * Generates one agent's share of a stress run and reports it once per second.
 *
 * Open loop: requests are due on a schedule (constant or Poisson, following the ramp) and go
 * out whether or not earlier ones were answered; latency runs from each request's intended
 * send time, so queueing in the generator or a stalled target is measured, not omitted.
 * A tick sends everything due (no timer per request) and then sleeps until the next one.
 *
 * Closed loop: `ceil(concurrency × share)` workers each send, wait for the answer and send
 * again; latency runs from the actual send, as closed-loop tools measure it.
 *
 * Every request has the run's timeout, counted from when the generator sends it (waiting
 * for a free connection included); timeouts and non-2xx answers are errors and their
 * latency is recorded too. Requests in flight when the schedule ends are waited for (up to
 * the timeout) before the last report. Closed-loop reports carry a targetRps of 0: there
 * is no planned rate, only a number of workers.
 */
export class LoadGenerator {
  readonly done: Promise<void>;
  private readonly assignment: StressAssignment;
  private readonly onReport: (report: StressReport) => void;
  private readonly onLatency?: (latencyMs: number) => void;
  private readonly connections: EndpointConnections[];
  /** Endpoint indexes in a weighted round-robin order. */
  private readonly rotation: number[];
  private rotationIndex = 0;
  private readonly schedule: RateSchedule | null;
  private readonly arrivals: ArrivalProcess | null;
  private readonly workers: number;
  private readonly timeoutMs: number;
  private readonly warmupEndsAt: number;

  private state: State = 'new';
  private resolveDone: () => void = () => {};
  /** Monotonic ms of `startAt` (performance.now() clock). */
  private monoStart = 0;
  private endOffset = 0;
  /** Offset (ms after start) at which the run reached this agent: 0 unless it came late. */
  private joinedAt = 0;
  /** Offset (ms after start) of the next open-loop request; Infinity once the plan is done. */
  private nextDue = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Fifo<Exchange>(256);
  private unsettled = 0;

  private seq = 0;
  private intervalStartOffset = 0;
  private sent = 0;
  private completed = 0;
  private errors = 0;
  private late = 0;
  private readonly recorder = new LatencyRecorder();
  private readonly totals: Omit<LoadGeneratorStats, 'connections' | 'queued'> = {
    sent: 0,
    completed: 0,
    errors: 0,
    late: 0,
    skipped: 0,
  };

  private startTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private tickImmediate: NodeJS.Immediate | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private timeoutCheck: NodeJS.Timeout | null = null;

  constructor(options: LoadGeneratorOptions) {
    const { assignment } = options;
    if (options.endpoints.length === 0) throw new RangeError('endpoints: at least one is needed');
    this.assignment = assignment;
    this.onReport = options.onReport;
    this.onLatency = options.onLatency;
    this.timeoutMs = assignment.request.timeoutMs;
    this.warmupEndsAt = assignment.startAt + assignment.warmupS * 1000;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });

    const { load } = assignment;
    let connections: number;
    if (load.kind === 'open') {
      this.schedule = new RateSchedule(load.stages, assignment.share);
      this.arrivals =
        load.arrival === 'poisson'
          ? new PoissonArrivals(this.schedule, options.random)
          : new ConstantArrivals(this.schedule);
      this.workers = 0;
      this.endOffset = this.schedule.durationMs;
      const inFlightAtPeak = Math.ceil(this.schedule.peakRps * (this.timeoutMs / 1000));
      connections = Math.min(MAX_OPEN_LOOP_CONNECTIONS, Math.max(MIN_OPEN_LOOP_CONNECTIONS, inFlightAtPeak));
    } else {
      this.schedule = null;
      this.arrivals = null;
      this.workers = Math.max(1, Math.ceil(load.concurrency * assignment.share));
      this.endOffset = load.durationS * 1000;
      connections = this.workers;
    }
    connections = options.maxConnections ?? connections;

    const weights = options.endpoints.map((endpoint) => Math.max(1, Math.round(endpoint.replicas)));
    const totalWeight = weights.reduce((sum, weight) => sum + weight, 0);
    this.connections = options.endpoints.map(
      (endpoint, i) =>
        new EndpointConnections(
          endpoint.url,
          assignment.request,
          Math.max(1, Math.ceil((connections * (weights[i] as number)) / totalWeight)),
        ),
    );
    this.rotation = weightedRotation(weights);
  }

  /** Arms the run for `startAt`; resolves `done` after the last report. */
  start(): void {
    if (this.state !== 'new') throw new Error('a LoadGenerator can only be started once');
    this.state = 'waiting';
    // One reading of both clocks: the schedule runs on the monotonic one, reports on epoch ms.
    const nowEpoch = Date.now();
    const nowMono = performance.now();
    this.monoStart = nowMono + (this.assignment.startAt - nowEpoch);
    // Received after its start (a slow network, a reconnect): what was due before now is not sent.
    this.joinedAt = Math.max(0, nowEpoch - this.assignment.startAt);
    this.startTimer = setTimeout(() => this.begin(), Math.max(0, this.assignment.startAt - nowEpoch));
  }

  /** Ends the run now: outstanding requests are abandoned (not counted) and the last report goes out. */
  stop(): void {
    if (this.state === 'finished') return;
    if (this.state === 'new' || this.state === 'waiting') {
      this.finish();
      return;
    }
    this.inFlight.drain((exchange) => {
      if (!exchange.settled) exchange.abandon(CANCELLED);
    });
    this.unsettled = 0;
    this.finish();
  }

  stats(): LoadGeneratorStats {
    return {
      ...this.totals,
      connections: this.connections.reduce((sum, c) => sum + c.open, 0),
      queued: this.connections.reduce((sum, c) => sum + c.queued, 0),
    };
  }

  // --- Schedule --------------------------------------------------------------------------

  private begin(): void {
    this.startTimer = null;
    if (this.state !== 'waiting') return;
    this.state = 'running';
    const offset = this.offsetNow();
    // Joined late: the first interval is the one under way, so seconds still line up with other agents.
    this.intervalStartOffset = Math.floor(this.joinedAt / INTERVAL_MS) * INTERVAL_MS;
    this.scheduleReport();
    this.timeoutCheck = setInterval(() => this.checkTimeouts(), TIMEOUT_CHECK_MS);
    if (offset >= this.endOffset) {
      this.beginDraining();
      return;
    }
    if (this.arrivals) {
      this.nextDue = this.arrivals.next();
      while (this.nextDue < this.joinedAt) {
        this.totals.skipped++;
        this.nextDue = this.arrivals.next();
      }
      this.tick();
    } else {
      this.endTimer = setTimeout(() => this.beginDraining(), this.endOffset - offset);
      const now = performance.now();
      for (let i = 0; i < this.workers; i++) this.launch(now, now);
    }
  }

  /** Open loop: sends every request that is due, then sleeps until the next one is. */
  private readonly tick = (): void => {
    this.tickTimer = null;
    this.tickImmediate = null;
    if (this.state !== 'running' || !this.arrivals) return;
    const now = performance.now();
    const sendBy = now - this.monoStart + SEND_AHEAD_MS;
    let sends = 0;
    while (this.nextDue <= sendBy && sends < MAX_SENDS_PER_TICK) {
      this.launch(this.monoStart + this.nextDue, now);
      this.nextDue = this.arrivals.next();
      sends++;
    }
    this.expire(now);
    if (this.nextDue === Number.POSITIVE_INFINITY) {
      this.beginDraining();
      return;
    }
    const wait = this.monoStart + this.nextDue - SEND_AHEAD_MS - performance.now();
    // Only a tick cut short by MAX_SENDS_PER_TICK comes back at once (after pending I/O).
    if (wait <= 0) this.tickImmediate = setImmediate(this.tick);
    else this.tickTimer = setTimeout(this.tick, Math.max(1, Math.floor(wait)));
  };

  /** Creates a request due at `intended` (monotonic ms) and hands it to an endpoint. */
  private launch(intended: number, now: number): void {
    const exchange = new Exchange(this, intended, intended, now + this.timeoutMs);
    this.inFlight.push(exchange);
    this.unsettled++;
    const connections = this.connections[this.rotation[this.rotationIndex] as number] as EndpointConnections;
    this.rotationIndex = (this.rotationIndex + 1) % this.rotation.length;
    connections.send(exchange);
  }

  /** Called by an Exchange as undici writes it to a connection. */
  onWritten(exchange: Exchange): void {
    this.sent++;
    this.totals.sent++;
    const now = performance.now();
    if (!this.arrivals) {
      // Closed loop: from the actual send, as closed-loop tools measure (and label) it.
      exchange.measuredFrom = now;
      return;
    }
    // Open loop: from the earlier of its due time and its send, so neither a late send
    // (queueing in the generator) nor an early one (SEND_AHEAD_MS) hides any latency.
    if (now < exchange.intended) exchange.measuredFrom = now;
    else if (now - exchange.intended > LATE_TOLERANCE_MS) {
      this.late++;
      this.totals.late++;
    }
  }

  /** Called by an Exchange when it is answered or fails, and by the timeout check. */
  onSettled(exchange: Exchange, ok: boolean): void {
    if (exchange.settled || this.state === 'finished') return;
    exchange.settled = true;
    this.unsettled--;
    const latency = performance.now() - exchange.measuredFrom;
    this.recorder.record(latency);
    this.onLatency?.(latency);
    this.completed++;
    this.totals.completed++;
    if (!ok) {
      this.errors++;
      this.totals.errors++;
    }
    if (this.state === 'running' && !this.arrivals) {
      // Closed loop: the worker sends again at once; after a failure, on the next turn, so a
      // target that refuses connections cannot trap it in a synchronous loop.
      if (ok) this.relaunch();
      else setImmediate(() => this.relaunch());
    } else if (this.state === 'draining' && this.unsettled === 0) {
      this.finish();
    }
  }

  private relaunch(): void {
    if (this.state !== 'running') return;
    const now = performance.now();
    this.launch(now, now);
  }

  private checkTimeouts(): void {
    if (this.state === 'running' || this.state === 'draining') this.expire(performance.now());
  }

  /** Times out requests past their deadline; deadlines grow in send order, so only the head is checked. */
  private expire(now: number): void {
    for (let head = this.inFlight.peek(); head; head = this.inFlight.peek()) {
      if (!head.settled) {
        if (head.deadline > now) return;
        this.onSettled(head, false);
        head.abandon(TIMED_OUT);
      }
      this.inFlight.shift();
    }
  }

  private beginDraining(): void {
    if (this.state !== 'running') return;
    this.state = 'draining';
    if (this.unsettled === 0) this.finish();
  }

  // --- Reports ---------------------------------------------------------------------------

  private offsetNow(): number {
    return performance.now() - this.monoStart;
  }

  private scheduleReport(): void {
    const boundary = this.intervalStartOffset + INTERVAL_MS;
    this.reportTimer = setTimeout(
      () => {
        this.reportTimer = null;
        if (this.state !== 'running' && this.state !== 'draining') return;
        this.report(boundary, false);
        this.scheduleReport();
      },
      Math.max(0, boundary - this.offsetNow()),
    );
  }

  private report(endOffset: number, done: boolean): void {
    const { startAt } = this.assignment;
    const intervalStart = startAt + this.intervalStartOffset;
    const intervalEnd = Math.max(intervalStart + 1, startAt + Math.round(endOffset));
    const targetRps = this.schedule ? this.schedule.meanRps(this.intervalStartOffset, endOffset) : 0;
    const report: StressReport = {
      runId: this.assignment.runId,
      seq: ++this.seq,
      intervalStart,
      intervalEnd,
      phase: intervalStart < this.warmupEndsAt ? 'warmup' : 'measure',
      targetRps: Math.round(targetRps * 1000) / 1000,
      sent: this.sent,
      completed: this.completed,
      errors: this.errors,
      late: this.late,
      histogram: this.recorder.drain(),
      done,
    };
    this.sent = 0;
    this.completed = 0;
    this.errors = 0;
    this.late = 0;
    this.intervalStartOffset = endOffset;
    this.onReport(report);
  }

  private finish(): void {
    if (this.state === 'finished') return;
    const started = this.state !== 'new' && this.state !== 'waiting';
    this.state = 'finished';
    for (const timer of [this.startTimer, this.tickTimer, this.reportTimer, this.endTimer]) {
      if (timer) clearTimeout(timer);
    }
    if (this.tickImmediate) clearImmediate(this.tickImmediate);
    if (this.timeoutCheck) clearInterval(this.timeoutCheck);
    // A run stopped before it began still says it is done, over an empty first interval.
    const endOffset = started
      ? Math.max(this.intervalStartOffset, this.offsetNow())
      : this.intervalStartOffset;
    this.report(endOffset, true);
    void Promise.allSettled(this.connections.map((c) => c.close())).then(() => this.resolveDone());
  }
}

/** Indexes spread in proportion to their weights (smooth weighted round robin), e.g. [2,1] → 0,1,0. */
export function weightedRotation(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const current = weights.map(() => 0);
  const order: number[] = [];
  for (let step = 0; step < total; step++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i] = (current[i] as number) + (weights[i] as number);
      if ((current[i] as number) > (current[best] as number)) best = i;
    }
    current[best] = (current[best] as number) - total;
    order.push(best);
  }
  return order;
}
