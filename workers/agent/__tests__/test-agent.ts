import type { Assignments, GpuInventory } from '../../../lib/protocol/agent';
import type { AgentLog } from '../log';
import type { TelemetrySample, TelemetrySource } from '../sources/source';

/** Helpers shared by the agent's tests. */

/** A source with one GPU whose samples are trivially valid; remembers the assignments it got. */
export class OneGpuSource implements TelemetrySource {
  readonly applied: Assignments[] = [];
  async inventory(): Promise<GpuInventory[]> {
    return [{ index: 0, uuid: 'GPU-test-0000', name: 'Test GPU', memoryTotalMiB: 1024 }];
  }
  async sample(): Promise<TelemetrySample> {
    return {
      gpus: [
        {
          uuid: 'GPU-test-0000',
          utilizationPct: 50,
          memoryUsedMiB: 512,
          memoryTotalMiB: 1024,
          powerW: 100,
          temperatureC: 50,
          smClockMHz: 1500,
          xidErrors: 0,
          eccErrors: 0,
          remappedRowsPending: false,
          remappedRowsFailed: false,
        },
      ],
      deployments: [],
    };
  }
  applyAssignments(assignments: Assignments): void {
    this.applied.push(assignments);
  }
}

export class MemoryLog implements AgentLog {
  readonly lines: string[] = [];
  info(message: string) {
    this.lines.push(`info ${message}`);
  }
  warn(message: string) {
    this.lines.push(`warn ${message}`);
  }
  error(message: string) {
    this.lines.push(`error ${message}`);
  }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether seqs run one after another with no gap. */
export const consecutive = (seqs: number[]) =>
  seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] ?? 0) + 1);
