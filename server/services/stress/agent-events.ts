import type { Socket } from 'socket.io';
import type { ProtocolError } from '../../../lib/protocol/agent';
import type { StressAssignment, StressStartAck, StressStop } from '../../../lib/protocol/stress';

/**
 * The stress-test events on the agent namespace (lib/protocol/stress.ts has the payloads).
 * Typed here, beside the code that handles them, so the agent gateway registers them on
 * its socket without widening the telemetry protocol's own event maps.
 */

export type EndpointsAck = { ok: true; endpoints: number } | { ok: false; error: ProtocolError };

/** Like the telemetry ack: a repeat of a seq already held is acknowledged as a duplicate. */
export type StressReportAck =
  | { ok: true; seq: number; duplicate: boolean }
  | { ok: false; error: ProtocolError };

export interface StressAgentToServerEvents {
  endpoints: (payload: unknown, ack?: (reply: EndpointsAck) => void) => void;
  'stress:report': (payload: unknown, ack?: (reply: StressReportAck) => void) => void;
}

export interface StressServerToAgentEvents {
  'stress:start': (assignment: StressAssignment, ack: (reply: StressStartAck) => void) => void;
  'stress:stop': (stop: StressStop) => void;
}

export type StressAgentSocket = Socket<StressAgentToServerEvents, StressServerToAgentEvents>;
