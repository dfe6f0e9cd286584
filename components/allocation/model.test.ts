import { describe, expect, it } from 'vitest';
import type { AllocationChangeView } from '@/lib/allocation/types';
import {
  type AllocationBoard,
  type BoardGpu,
  mergeChanges,
  pickReplica,
  prepareChange,
  rangeBetween,
  summarizeMoves,
  versionsFor,
} from './model';

function gpu(hostname: string, index: number, owner: Partial<BoardGpu> = {}): BoardGpu {
  return {
    id: `${hostname}-${index}`,
    label: `${hostname}/${index}`,
    nodeId: `node-${hostname}`,
    hostname,
    clusterName: 'c1',
    health: 'ok',
    cordoned: false,
    eligible: true,
    deploymentId: null,
    jobId: null,
    utilizationPct: null,
    busyChangeId: null,
    ...owner,
  };
}

function deployment(id: string, version: number) {
  return {
    id,
    name: `name-${id}`,
    version,
    priority: 1,
    minGpus: 1,
    maxGpus: 8,
    gpusPerReplica: 1,
    sloP95Ms: 100,
    p95Ms: null,
    requestsPerSecond: 0,
  };
}

function change(id: string, state: AllocationChangeView['state'], createdAt: string): AllocationChangeView {
  return {
    id,
    state,
    source: 'manual',
    reason: 'r',
    actorName: 'admin',
    createdAt,
    finishedAt: null,
    outcome: null,
    moves: [],
    nodes: [],
    versions: {},
  };
}

const names = {
  deployments: new Map([
    ['chat', 'chat-70b'],
    ['embed', 'embed-small'],
  ]),
  jobs: new Map([['j1', 'train-1']]),
};

describe('prepareChange', () => {
  const board: Pick<AllocationBoard, 'gpus' | 'deployments' | 'jobs'> = {
    gpus: [
      gpu('a', 0),
      gpu('a', 1, { deploymentId: 'embed' }),
      gpu('a', 2, { jobId: 'j1' }),
      gpu('a', 3, { deploymentId: 'chat' }),
    ],
    deployments: [deployment('chat', 7), deployment('embed', 3), deployment('other', 9)],
    jobs: [{ id: 'j1', name: 'train-1', version: 2, state: 'running' }],
  };

  it('names the version of every owner it takes from and of the destination, and no other', () => {
    const prepared = prepareChange(board, ['a-0', 'a-1', 'a-2'], 'deployment:chat');
    expect(prepared.moves).toEqual([
      { gpuId: 'a-0', to: { deploymentId: 'chat' } },
      { gpuId: 'a-1', to: { deploymentId: 'chat' } },
      { gpuId: 'a-2', to: { deploymentId: 'chat' } },
    ]);
    expect(prepared.baseVersions).toEqual({ embed: 3, j1: 2, chat: 7 });
    expect(prepared.unchanged).toEqual([]);
  });

  it('releases to the free pool, which has no version, and skips GPUs already there', () => {
    const prepared = prepareChange(board, ['a-0', 'a-3'], 'free');
    expect(prepared.moves).toEqual([{ gpuId: 'a-3', to: null }]);
    expect(prepared.baseVersions).toEqual({ chat: 7 });
    expect(prepared.unchanged).toEqual(['a-0']);
  });

  it('asks for no version when nothing moves', () => {
    const prepared = prepareChange(board, ['a-3'], 'deployment:chat');
    expect(prepared.moves).toEqual([]);
    expect(prepared.baseVersions).toEqual({});
  });
});

describe('selection', () => {
  const lane = [gpu('a', 0), gpu('a', 1, { busyChangeId: 'c1' }), gpu('a', 2), gpu('b', 0), gpu('b', 1)];

  it('a range covers both ends in either direction and leaves out busy GPUs', () => {
    expect(rangeBetween(lane, 'a-0', 'b-0')).toEqual(['a-0', 'a-2', 'b-0']);
    expect(rangeBetween(lane, 'b-0', 'a-0')).toEqual(['a-0', 'a-2', 'b-0']);
  });

  it('a replica comes from one node, the least busy GPUs of the least busy node that has enough', () => {
    const pool = [
      gpu('a', 0, { utilizationPct: 5 }),
      gpu('a', 1, { utilizationPct: 90 }),
      gpu('b', 0, { utilizationPct: 40 }),
      gpu('b', 1, { utilizationPct: 1 }),
      gpu('b', 2, { utilizationPct: 0 }),
      gpu('c', 0, { utilizationPct: 0 }),
    ];
    const util = (g: BoardGpu) => g.utilizationPct;
    expect(pickReplica(pool, 2, new Set(), util, true)).toEqual(['b-2', 'b-1']);
    // Already selected GPUs are not picked again.
    expect(pickReplica(pool, 2, new Set(['b-2']), util, true)).toEqual(['b-1', 'b-0']);
    expect(pickReplica(pool, 4, new Set(), util, true)).toBeNull();
    // For a new owner, GPUs that may not take one are passed over; releasing them is fine.
    const failing = pool.map((g) => (g.id === 'b-1' ? { ...g, eligible: false } : g));
    expect(pickReplica(failing, 2, new Set(), util, true)).toEqual(['b-2', 'b-0']);
    expect(pickReplica(failing, 2, new Set(), util, false)).toEqual(['b-2', 'b-1']);
  });
});

describe('describing changes', () => {
  it('summarizes moves by route, with names', () => {
    const moves = [
      { from: null, to: { deploymentId: 'chat' } },
      { from: null, to: { deploymentId: 'chat' } },
      { from: { deploymentId: 'embed' }, to: null },
      { from: { jobId: 'j1' }, to: { deploymentId: 'unknown-id' } },
    ];
    expect(summarizeMoves(moves, names)).toBe(
      '2 × free pool → chat-70b, 1 × embed-small → free pool, 1 × job train-1 → unknown-id',
    );
  });

  it('keeps only the versions that the chosen moves depend on', () => {
    const moves = [{ from: { deploymentId: 'embed' }, to: { deploymentId: 'chat' } }];
    expect(versionsFor(moves, { chat: 4, embed: 2, code: 9 })).toEqual({ chat: 4, embed: 2 });
  });

  it('merges changes newest first, and a stale copy never undoes a later state', () => {
    const applying = change('c1', 'applying', '2026-01-01T00:00:01.000Z');
    const applied = { ...applying, state: 'applied' as const };
    const older = change('c0', 'applied', '2026-01-01T00:00:00.000Z');
    expect(mergeChanges([applied], [applying, older]).map((c) => [c.id, c.state])).toEqual([
      ['c1', 'applied'],
      ['c0', 'applied'],
    ]);
    expect(mergeChanges([applying], [applied])[0]?.state).toBe('applied');
  });
});
