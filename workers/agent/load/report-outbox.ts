import type { Socket } from 'socket.io-client';
import type { StressReport } from '../../../lib/protocol/stress';
import type { AgentLog } from '../log';

/** Reports kept while the server is unreachable (an hour of one run); the oldest go first. */
export const MAX_BUFFERED_REPORTS = 3600;
/** After a refusal the server may recover from (NOT_READY, INTERNAL), the report goes again this much later. */
export const REPORT_RETRY_MS = 1000;
/** Refusals that mean the report itself is wrong: sending it again would be refused again. */
const FINAL_REFUSALS = new Set(['BAD_FRAME', 'FORBIDDEN']);

export interface ReportEvents {
  'stress:report': (report: StressReport, ack: (reply: unknown) => void) => void;
}

/**
 * Stress reports on their way to the server. Each is kept until the server acknowledges it
 * and sent again on every new connection until then; the server ignores repeats by seq, so
 * a report sent twice is harmless and a report lost with a connection is not lost.
 */
export class ReportOutbox {
  private readonly pending = new Map<string, StressReport>();
  private socket: Socket<Record<string, never>, ReportEvents> | null = null;
  private droppedCount = 0;
  private warnedFull = false;

  constructor(
    private readonly log: AgentLog,
    private readonly ackTimeoutMs: number,
    private readonly capacity = MAX_BUFFERED_REPORTS,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  push(report: StressReport): void {
    this.pending.set(`${report.runId}/${report.seq}`, report);
    if (this.pending.size > this.capacity) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.droppedCount++;
      if (!this.warnedFull) {
        this.warnedFull = true;
        this.log.warn(`stress reports: buffer full (${this.capacity}); dropping the oldest`);
      }
    }
    if (this.socket?.connected) this.send(this.socket, report);
  }

  /** A connection is ready: everything unacknowledged goes out on it, in order. */
  ready(socket: Socket<Record<string, never>, ReportEvents>): void {
    this.socket = socket;
    this.warnedFull = false;
    for (const report of this.pending.values()) this.send(socket, report);
  }

  down(): void {
    this.socket = null;
  }

  private send(socket: Socket<Record<string, never>, ReportEvents>, report: StressReport): void {
    const key = `${report.runId}/${report.seq}`;
    socket.timeout(this.ackTimeoutMs).emit('stress:report', report, (error: Error | null, reply: unknown) => {
      // No answer: it stays pending and goes out again on the next connection.
      if (error) return;
      const answer = reply as { ok?: unknown; error?: unknown } | null;
      if (answer?.ok !== false) {
        this.pending.delete(key);
        return;
      }
      const { code, message } = describeRefusal(answer.error);
      if (code && !FINAL_REFUSALS.has(code)) {
        // The server could not take it just now: it stays pending and goes again shortly.
        setTimeout(() => {
          if (this.socket === socket && socket.connected && this.pending.get(key) === report)
            this.send(socket, report);
        }, REPORT_RETRY_MS).unref();
        return;
      }
      this.pending.delete(key);
      this.log.error(`the server refused stress report ${key}: ${message}`);
    });
  }
}

/** The protocol error of a refusal ({code, message}), or whatever else the server said. */
export function describeRefusal(error: unknown): { code: string | null; message: string } {
  if (typeof error === 'string') return { code: null, message: error };
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return {
      code: typeof code === 'string' ? code : null,
      message: typeof message === 'string' ? message : JSON.stringify(error),
    };
  }
  return { code: null, message: 'no reason given' };
}
