import type { RouterOutputs } from '@/components/trpc/client';
import type {
  AllocationChangeView,
  ChangeMove,
  ChangeState,
  MoveInput,
  OwnerRef,
} from '@/lib/allocation/types';

/**
 * The board's data model, free of React: which lane a GPU sits in, how lanes are ordered,
 * what a selection turns into (moves and the versions they were based on).
 */

export type AllocationBoard = RouterOutputs['allocation']['board'];
export type BoardGpu = AllocationBoard['gpus'][number];
export type BoardDeployment = AllocationBoard['deployments'][number];
export type BoardJob = AllocationBoard['jobs'][number];

/** A lane's (and a destination's) key: `deployment:<id>`, `job:<id>` or `free`. */
export type LaneKey = `deployment:${string}` | `job:${string}` | 'free';
export const FREE_POOL: LaneKey = 'free';

export const IN_FLIGHT_STATES: readonly ChangeState[] = ['pending', 'applying'];

export function isInFlight(change: Pick<AllocationChangeView, 'state'>): boolean {
  return IN_FLIGHT_STATES.includes(change.state);
}

export function ownerKey(owner: OwnerRef): LaneKey {
  if (!owner) return FREE_POOL;
  return 'deploymentId' in owner ? `deployment:${owner.deploymentId}` : `job:${owner.jobId}`;
}

export function ownerFromKey(key: LaneKey): OwnerRef {
  if (key === FREE_POOL) return null;
  if (key.startsWith('deployment:')) return { deploymentId: key.slice('deployment:'.length) };
  return { jobId: key.slice('job:'.length) };
}

export function gpuLaneKey(gpu: Pick<BoardGpu, 'deploymentId' | 'jobId'>): LaneKey {
  if (gpu.deploymentId) return `deployment:${gpu.deploymentId}`;
  if (gpu.jobId) return `job:${gpu.jobId}`;
  return FREE_POOL;
}

/** The id whose version a change must name for this owner; null for the free pool. */
function versionedId(key: LaneKey): string | null {
  if (key === FREE_POOL) return null;
  return key.slice(key.indexOf(':') + 1);
}

/** `use1-h100-01/3` → 3; the label is `hostname/index`. */
export function gpuIndex(gpu: Pick<BoardGpu, 'label'>): string {
  const slash = gpu.label.lastIndexOf('/');
  return slash === -1 ? gpu.label : gpu.label.slice(slash + 1);
}

/** Stable order: by node hostname, then GPU index. */
export function compareGpus(a: BoardGpu, b: BoardGpu): number {
  if (a.hostname !== b.hostname) return a.hostname < b.hostname ? -1 : 1;
  return Number(gpuIndex(a)) - Number(gpuIndex(b)) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
}

export type NodeGroup = { nodeId: string; hostname: string; clusterName: string; gpus: BoardGpu[] };

/** A lane's GPUs by node, in board order. */
export function groupByNode(gpus: readonly BoardGpu[]): NodeGroup[] {
  const groups = new Map<string, NodeGroup>();
  for (const gpu of [...gpus].sort(compareGpus)) {
    let group = groups.get(gpu.nodeId);
    if (!group) {
      group = { nodeId: gpu.nodeId, hostname: gpu.hostname, clusterName: gpu.clusterName, gpus: [] };
      groups.set(gpu.nodeId, group);
    }
    group.gpus.push(gpu);
  }
  return [...groups.values()];
}

/** Every lane's GPUs, in board order; lanes without GPUs are absent. */
export function gpusByLane(gpus: readonly BoardGpu[]): Map<LaneKey, BoardGpu[]> {
  const lanes = new Map<LaneKey, BoardGpu[]>();
  for (const gpu of [...gpus].sort(compareGpus)) {
    const key = gpuLaneKey(gpu);
    const lane = lanes.get(key);
    if (lane) lane.push(gpu);
    else lanes.set(key, [gpu]);
  }
  return lanes;
}

const FINISHED_JOB_STATES = new Set(['succeeded', 'failed', 'cancelled']);

/** A job that may still hold or receive GPUs. */
export function isOpenJob(job: Pick<BoardJob, 'state'>): boolean {
  return !FINISHED_JOB_STATES.has(job.state);
}

/** Highest priority first, then by name. */
export function sortDeployments(deployments: readonly BoardDeployment[]): BoardDeployment[] {
  return [...deployments].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
}

/** A GPU held by a pending or applying change cannot be selected until it settles. */
export function isSelectable(gpu: Pick<BoardGpu, 'busyChangeId'>): boolean {
  return gpu.busyChangeId === null;
}

/** The selectable GPUs between two in a lane's order, both ends included. */
export function rangeBetween(laneGpus: readonly BoardGpu[], fromId: string, toId: string): string[] {
  const from = laneGpus.findIndex((g) => g.id === fromId);
  const to = laneGpus.findIndex((g) => g.id === toId);
  if (from === -1 || to === -1) return [toId];
  const [lo, hi] = from <= to ? [from, to] : [to, from];
  return laneGpus
    .slice(lo, hi + 1)
    .filter(isSelectable)
    .map((g) => g.id);
}

/**
 * A replica's worth of GPUs from one lane, all on one node (a replica does not span
 * nodes): the node with enough unselected, selectable GPUs whose GPUs are least busy, and
 * from it the least busy GPUs. With `forNewOwner`, only GPUs that may take a new owner
 * count. Null when no node has that many.
 */
export function pickReplica(
  laneGpus: readonly BoardGpu[],
  size: number,
  selected: ReadonlySet<string>,
  utilOf: (gpu: BoardGpu) => number | null,
  forNewOwner: boolean,
): string[] | null {
  if (size < 1) return null;
  const load = (gpu: BoardGpu) => utilOf(gpu) ?? 0;
  let best: { ids: string[]; load: number } | null = null;
  for (const group of groupByNode(laneGpus)) {
    const candidates = group.gpus
      .filter((g) => isSelectable(g) && !selected.has(g.id) && (!forNewOwner || g.eligible))
      .sort((a, b) => load(a) - load(b));
    if (candidates.length < size) continue;
    const chosen = candidates.slice(0, size);
    const total = chosen.reduce((sum, g) => sum + load(g), 0);
    if (!best || total < best.load) best = { ids: chosen.map((g) => g.id), load: total };
  }
  return best ? best.ids : null;
}

export type PreparedChange = {
  moves: MoveInput[];
  baseVersions: Record<string, number>;
  /** Selected GPUs that the destination already holds: nothing to do for them. */
  unchanged: string[];
};

/**
 * The moves that put the selected GPUs in `destination`, with the version (as the board
 * read it) of every deployment and job they touch: their current owners and the destination.
 */
export function prepareChange(
  board: Pick<AllocationBoard, 'gpus' | 'deployments' | 'jobs'>,
  selectedIds: Iterable<string>,
  destination: LaneKey,
): PreparedChange {
  const gpus = new Map(board.gpus.map((g) => [g.id, g]));
  const versions = new Map<string, number>();
  for (const d of board.deployments) versions.set(d.id, d.version);
  for (const j of board.jobs) versions.set(j.id, j.version);

  const moves: MoveInput[] = [];
  const unchanged: string[] = [];
  const touched = new Set<string>();
  const to = ownerFromKey(destination);
  for (const id of selectedIds) {
    const gpu = gpus.get(id);
    if (!gpu) continue;
    const from = gpuLaneKey(gpu);
    if (from === destination) {
      unchanged.push(id);
      continue;
    }
    moves.push({ gpuId: id, to });
    const fromId = versionedId(from);
    if (fromId) touched.add(fromId);
  }
  const toId = versionedId(destination);
  if (toId && moves.length > 0) touched.add(toId);

  const baseVersions: Record<string, number> = {};
  for (const id of touched) {
    const version = versions.get(id);
    if (version !== undefined) baseVersions[id] = version;
  }
  return { moves, baseVersions, unchanged };
}

export type OwnerNames = { deployments: ReadonlyMap<string, string>; jobs: ReadonlyMap<string, string> };

export function ownerName(owner: OwnerRef, names: OwnerNames): string {
  if (!owner) return 'free pool';
  if ('deploymentId' in owner) return names.deployments.get(owner.deploymentId) ?? owner.deploymentId;
  const job = names.jobs.get(owner.jobId);
  return job ? `job ${job}` : `job ${owner.jobId}`;
}

/** "4 × free pool → chat-70b, 2 × embed-small → free pool" */
export function summarizeMoves(moves: readonly Pick<ChangeMove, 'from' | 'to'>[], names: OwnerNames): string {
  const counts = new Map<string, number>();
  for (const move of moves) {
    const key = `${ownerName(move.from, names)} → ${ownerName(move.to, names)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([route, n]) => `${n} × ${route}`).join(', ');
}

/** The versions a subset of a plan's moves depends on: the owners they move GPUs from and to. */
export function versionsFor(
  moves: readonly Pick<ChangeMove, 'from' | 'to'>[],
  baseVersions: Readonly<Record<string, number>>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const move of moves) {
    for (const owner of [move.from, move.to]) {
      const id = versionedId(ownerKey(owner));
      if (id && baseVersions[id] !== undefined) result[id] = baseVersions[id];
    }
  }
  return result;
}

/** Newest first, one entry per change id, the later state winning. */
export function mergeChanges(...lists: readonly (readonly AllocationChangeView[])[]): AllocationChangeView[] {
  const byId = new Map<string, AllocationChangeView>();
  for (const list of lists) {
    for (const change of list) {
      const known = byId.get(change.id);
      if (!known || stateRank(change) >= stateRank(known)) byId.set(change.id, change);
    }
  }
  return [...byId.values()].sort((a, b) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
  );
}

/** Later states rank higher, so a late-arriving stale copy cannot undo a newer one. */
function stateRank(change: AllocationChangeView): number {
  const base = { pending: 0, applying: 1, applied: 2, rolled_back: 2 }[change.state];
  // Within a state, per-node results only ever settle.
  return base * 1000 + change.nodes.filter((n) => n.state !== 'pending').length;
}
