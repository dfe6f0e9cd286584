import { Client, type Dispatcher } from 'undici';
import type { RequestShape } from '../../../lib/protocol/stress';
import { Fifo } from './fifo';

/** What a connection reports back about one request; implemented by the generator's Exchange. */
export interface ConnectionExchange extends Dispatcher.DispatchHandler {
  /** True once the generator has given up on the request (timed out or cancelled). */
  readonly settled: boolean;
  /** Hands the exchange to an undici client, which writes it once the connection is free. */
  dispatchOn(client: Client, connections: EndpointConnections): void;
}

/**
 * Keep-alive connections to one endpoint, one request at a time on each. Unlike undici's
 * Pool, which scans its clients on every dispatch, idle connections sit on a stack and
 * waiting requests in a FIFO, so each send is O(1) however many connections are open.
 * Connections are opened lazily, up to `maxConnections`; past that, requests wait here, in
 * the generator, where their delay shows up as lateness (they are measured from their
 * intended send time all the same).
 */
export class EndpointConnections {
  readonly origin: string;
  readonly dispatchOptions: Dispatcher.DispatchOptions;
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  private readonly waiting = new Fifo<ConnectionExchange>();
  private closed = false;
  private opened = 0;
  private waited = 0;

  constructor(
    url: string,
    request: RequestShape,
    private readonly maxConnections: number,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    const prefix = parsed.pathname.replace(/\/+$/, '');
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const headers: Record<string, string> = { ...request.headers };
    if (body && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    // One options object for every request: undici copies what it needs into its own Request.
    this.dispatchOptions = { path: `${prefix}${request.path}`, method: request.method, headers, body };
  }

  /** Connections opened so far (including closed ones). */
  get open(): number {
    return this.opened;
  }

  /** Requests that had to wait for a free connection, so far. */
  get queued(): number {
    return this.waited;
  }

  send(exchange: ConnectionExchange): void {
    if (this.closed) return;
    const client = this.idle.pop() ?? this.openClient();
    if (client) exchange.dispatchOn(client, this);
    else {
      this.waiting.push(exchange);
      this.waited++;
    }
  }

  /** The client's request is over (answered, failed or aborted): it serves the next in line. */
  release(client: Client): void {
    if (this.closed) return;
    for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
      if (next.settled) continue;
      next.dispatchOn(client, this);
      return;
    }
    this.idle.push(client);
  }

  /** Drops every connection at once; requests still waiting are never sent. */
  async close(): Promise<void> {
    this.closed = true;
    this.waiting.drain(() => {});
    this.idle.length = 0;
    const clients = this.all.splice(0);
    await Promise.allSettled(clients.map((client) => client.destroy()));
  }

  private openClient(): Client | undefined {
    if (this.all.length >= this.maxConnections) return undefined;
    const client = new Client(this.origin, { pipelining: 1 });
    this.all.push(client);
    this.opened++;
    return client;
  }
}
