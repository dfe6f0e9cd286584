import type { AllocationCommandAck } from '../../lib/protocol/agent';
import type { AgentCommandChannel } from '../services/allocation/dispatcher';
import type { AgentNamespace } from './agent-gateway';

/** Commands to node agents over their socket.io connection (room `node:<id>`). */
export function agentCommandChannel(agents: AgentNamespace): AgentCommandChannel {
  const readySocket = (nodeId: string) => {
    const ids = agents.adapter.rooms.get(`node:${nodeId}`) ?? new Set<string>();
    // The newest ready connection speaks for the node (an old one may linger a moment).
    return [...ids]
      .map((id) => agents.sockets.get(id))
      .filter((socket) => socket?.data.ready)
      .at(-1);
  };
  return {
    async sendAllocation(nodeId, command, timeoutMs) {
      const socket = readySocket(nodeId);
      if (!socket) return { ok: false, state: 'unreachable', error: 'no agent connected' };
      let reply: AllocationCommandAck;
      try {
        reply = await socket.timeout(timeoutMs).emitWithAck('allocation:apply', command);
      } catch {
        return { ok: false, state: 'timed_out', error: `no answer within ${timeoutMs} ms` };
      }
      if (reply?.ok === true) return { ok: true };
      const error = typeof reply?.error === 'string' ? reply.error.slice(0, 500) : 'unreadable answer';
      return { ok: false, error };
    },
    notifyAssignments(nodeId, assignments) {
      agents.to(`node:${nodeId}`).emit('assignments', assignments);
    },
  };
}
