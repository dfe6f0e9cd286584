import { ZTelemetryFrame } from '../../lib/protocol/agent';
import type { TelemetrySample } from './sources/source';

/**
 * Numbers and timestamps one sample as a telemetry frame, checked against the protocol
 * schema here, so a source bug shows up in the agent's log (naming the field) instead of as
 * a frame the server refuses.
 */
export function buildTelemetryFrame(
  seq: number,
  intervalMs: number,
  sample: TelemetrySample,
  sampledAt: number = Date.now(),
) {
  return ZTelemetryFrame.safeParse({
    seq,
    sampledAt,
    intervalMs,
    gpus: sample.gpus,
    deployments: sample.deployments,
  });
}
