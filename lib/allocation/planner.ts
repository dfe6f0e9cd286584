import { predictFromFit } from './latency-model';
import {
  type AllocationPolicy,
  canShrinkTo,
  DEFAULT_POLICY,
  type DeploymentModel,
  isMovable,
  modelDeployment,
  needsGpus,
  targetReplicas,
} from './policy';
import type { DeploymentEffect, OwnerRef, Plan, PlannerInput, PlanStep } from './types';

export { applyPlanToInput, finalOwners, planCost } from './objective';

/** Overrides of the allocation policy's thresholds (see policy.ts). */
export type PlannerOptions = Partial<AllocationPolicy>;
type Holding = {
  /** GPUs the deployment holds on the node, movable or not. */
  held: number;
  /** Indexes (into input.gpus) of held GPUs that may move, in input order. */
  movable: number[];
};

type DeploymentState = {
  index: number;
  model: DeploymentModel;
  /** Position among donors: idle first, then lower priority, then id. */
  donorRank: number;
  held: number;
  replicas: number;
  heldBefore: number;
  replicasBefore: number;
  onNode: Map<number, Holding>;
  need: ReturnType<typeof needsGpus>;
  grown: boolean;
  touched: boolean;
  /** Cached spareReplicas(); undefined when stale. */
  spareToDonate: number | undefined;
  spareToRelease: number | undefined;
};

type NodeState = {
  index: number;
  host: string;
  /** Eligible GPUs without owner that this plan has not touched, in input order. */
  free: number[];
  /** GPUs without owner after the moves so far, touched or not. */
  unowned: number;
  holders: Map<number, Holding>;
};

/** GPU owner codes while planning. */
const FREE = -1;
const UNTOUCHABLE = -2;

/** Replicas a donor gives up on the placement's node; with `relocateTo`, it keeps them there instead. */
type Donation = { donor: DeploymentState; replicas: number; relocateTo?: NodeState };
type Placement = { node: NodeState; need: number; donations: Donation[] };

/**
 * Plans GPU moves for a fleet, in this order of goals:
 *  1. Deployments over their SLO (or about to be, or under their minimum) get whole replicas,
 *     highest priority first, until predicted p95 is at the target share of the SLO or they
 *     reach their maximum. A new replica is k GPUs on one node, preferably a node where the
 *     deployment runs the fewest replicas. GPUs come from the free pool first (or from
 *     replicas an idle deployment would return to it anyway), then from deployments that
 *     can spare a whole replica (idle ones first, then lower priority), then from moving
 *     other replicas aside to gather free GPUs on one node.
 *  2. Deployments whose p95 stays well within their SLO with fewer replicas return whole
 *     replicas to the free pool, never below their minimum.
 * Jobs' GPUs and GPUs that are not eligible never change owner, and no GPU moves twice, so
 * each step can be applied on its own. Runs in O(steps × nodes) with per-node indexes.
 * Deterministic: the same input gives the same plan.
 */
export function planAllocations(input: PlannerInput, options: PlannerOptions = {}): Plan {
  const started = performance.now();
  const policy: AllocationPolicy = { ...DEFAULT_POLICY, ...options };
  const fleet = buildFleet(input, policy);
  const steps: PlanStep[] = [];
  const addStep = (step: Omit<PlanStep, 'id'>) => steps.push({ id: `step-${steps.length + 1}`, ...step });

  // Breaking (or under minimum) first, then short of headroom; each in priority order.
  const urgency = (d: DeploymentState) => (d.need === 'at-risk' ? 1 : 0);
  const needy = fleet.deployments
    .filter((d) => d.need !== null)
    .sort(
      (a, b) =>
        urgency(a) - urgency(b) ||
        b.model.deployment.priority - a.model.deployment.priority ||
        sloExcess(b) - sloExcess(a) ||
        compareText(a.model.deployment.id, b.model.deployment.id),
    );
  for (const receiver of needy) {
    const target = targetReplicas(receiver.model, receiver.replicas, policy);
    while (receiver.replicas < target) {
      const placement = placeReplica(fleet, receiver, policy);
      if (!placement) break;
      addStep(applyPlacement(fleet, receiver, placement, policy));
    }
  }

  const releasers = fleet.deployments
    .filter((d) => d.need === null && !d.grown)
    .sort((a, b) => a.donorRank - b.donorRank);
  for (const deployment of releasers) {
    while (spareReplicas(deployment, 'release', policy) > 0) {
      const node = releaseNode(fleet, deployment);
      if (!node) break;
      addStep(applyRelease(fleet, deployment, node));
    }
  }

  const touched = fleet.deployments.filter((d) => d.touched);
  const baseVersions: Record<string, number> = {};
  for (const d of touched) baseVersions[d.model.deployment.id] = d.model.deployment.version;
  return {
    steps,
    baseVersions,
    effects: touched.map(effectOf),
    computedMs: performance.now() - started,
  };
}

type Fleet = {
  input: PlannerInput;
  deployments: DeploymentState[];
  nodes: NodeState[];
  /** Nodes that may still have free GPUs. */
  freeNodes: NodeState[];
  /** Deployments that may still spare replicas to return to the pool / to donate, in donor order. */
  releasing: DeploymentState[];
  donating: DeploymentState[];
  /**
   * Smallest replica size for which no room was found. Room only shrinks while planning,
   * so a later deployment needing as many GPUs on a node finds none either (it could only
   * differ by relocating a replica of the one that failed, which is not worth a rescan).
   */
  unplaceableK: number;
  /** Per node: GPUs the deployment being placed holds there (see receiverView). */
  heldOnScratch: Int32Array;
};

function buildFleet(input: PlannerInput, policy: AllocationPolicy): Fleet {
  const depIndex = new Map<string, number>();
  for (const [i, d] of input.deployments.entries()) depIndex.set(d.id, i);

  const nodeIndex = new Map<string, number>();
  const rawNodes: { id: string; host: string; gpus: number[] }[] = [];
  /** Per GPU: index of the owning deployment, FREE, or UNTOUCHABLE (a job, or an owner the input does not know). */
  const owner = new Int32Array(input.gpus.length);
  input.gpus.forEach((gpu, g) => {
    let n = nodeIndex.get(gpu.nodeId);
    if (n === undefined) {
      n = rawNodes.length;
      nodeIndex.set(gpu.nodeId, n);
      const slash = gpu.label.lastIndexOf('/');
      rawNodes.push({ id: gpu.nodeId, host: slash > 0 ? gpu.label.slice(0, slash) : gpu.nodeId, gpus: [] });
    }
    rawNodes[n]!.gpus.push(g);
    if (gpu.jobId !== null) owner[g] = UNTOUCHABLE;
    else if (gpu.deploymentId === null) owner[g] = FREE;
    else owner[g] = depIndex.get(gpu.deploymentId) ?? UNTOUCHABLE;
  });
  // Hostname order makes tie-breaks readable as well as deterministic.
  rawNodes.sort((a, b) => compareText(a.host, b.host) || compareText(a.id, b.id));

  const holdings: Map<number, Holding>[] = input.deployments.map(() => new Map());
  const nodes: NodeState[] = rawNodes.map((raw, index) => {
    const node: NodeState = { index, host: raw.host, free: [], unowned: 0, holders: new Map() };
    for (const g of raw.gpus) {
      const o = owner[g]!;
      const gpu = input.gpus[g]!;
      if (o === FREE) {
        node.unowned += 1;
        if (gpu.eligible) node.free.push(g);
      } else if (o >= 0) {
        let holding = node.holders.get(o);
        if (!holding) {
          holding = { held: 0, movable: [] };
          node.holders.set(o, holding);
          holdings[o]!.set(index, holding);
        }
        holding.held += 1;
        if (isMovable(gpu)) holding.movable.push(g);
      }
    }
    return node;
  });

  const deployments: DeploymentState[] = input.deployments.map((deployment, index) => {
    const k = Math.max(1, Math.floor(deployment.gpusPerReplica));
    let held = 0;
    let replicas = 0;
    for (const holding of holdings[index]!.values()) {
      held += holding.held;
      replicas += Math.floor(holding.held / k);
    }
    const model = modelDeployment(deployment, replicas, policy);
    return {
      index,
      model,
      donorRank: 0,
      held,
      replicas,
      heldBefore: held,
      replicasBefore: replicas,
      onNode: holdings[index]!,
      need: needsGpus(model, held, replicas, policy),
      grown: false,
      touched: false,
      spareToDonate: undefined,
      spareToRelease: undefined,
    };
  });
  const donors = [...deployments].sort(
    (a, b) =>
      Number(b.model.idle) - Number(a.model.idle) ||
      a.model.deployment.priority - b.model.deployment.priority ||
      compareText(a.model.deployment.id, b.model.deployment.id),
  );
  donors.forEach((d, rank) => {
    d.donorRank = rank;
  });
  return {
    input,
    deployments,
    nodes,
    freeNodes: nodes.filter((node) => node.free.length > 0),
    releasing: donors,
    donating: donors,
    unplaceableK: Number.POSITIVE_INFINITY,
    heldOnScratch: new Int32Array(nodes.length),
  };
}

/** How far over its SLO a deployment is (0 when unknown), to order equal priorities. */
function sloExcess(d: DeploymentState): number {
  const { p95Ms, sloP95Ms } = d.model.deployment;
  return p95Ms === null ? 0 : p95Ms / sloP95Ms;
}

/**
 * Whole replicas a deployment could give up now without losing the policy's headroom:
 * `donate` to a deployment in need (busier replicas allowed), `release` to the free pool.
 * 0 while it needs GPUs itself or has grown in this plan.
 */
function spareReplicas(d: DeploymentState, purpose: 'donate' | 'release', policy: AllocationPolicy): number {
  if (d.need !== null || d.grown) return 0;
  const cached = purpose === 'donate' ? d.spareToDonate : d.spareToRelease;
  if (cached !== undefined) return cached;
  const maxRho = purpose === 'donate' ? policy.donorMaxRho : policy.releaseMaxRho;
  const { k } = d.model;
  let m = 0;
  while (m < d.replicas && canShrinkTo(d.model, d.replicas - m - 1, d.held - (m + 1) * k, maxRho, policy))
    m += 1;
  if (purpose === 'donate') d.spareToDonate = m;
  else d.spareToRelease = m;
  return m;
}

/** Replicas on a node made only of GPUs that may move. */
function movableReplicas(holding: Holding, k: number): number {
  return Math.floor(Math.min(holding.held, holding.movable.length) / k);
}

/**
 * The deployment being placed, with what it holds per node in a flat array (the
 * placement scans look it up for every candidate node).
 */
type Receiver = { d: DeploymentState; k: number; room: number; heldOn: Int32Array };

function receiverView(fleet: Fleet, d: DeploymentState): Receiver {
  for (const [n, holding] of d.onNode) fleet.heldOnScratch[n] = holding.held;
  return { d, k: d.model.k, room: d.model.deployment.maxGpus - d.held, heldOn: fleet.heldOnScratch };
}

function releaseView(receiver: Receiver): void {
  for (const n of receiver.d.onNode.keys()) receiver.heldOn[n] = 0;
}

/** GPUs the receiver still needs on this node for one more whole replica, or null if over its maximum. */
function gpusNeededOn(receiver: Receiver, node: NodeState): number | null {
  const need = receiver.k - (receiver.heldOn[node.index]! % receiver.k);
  return need <= receiver.room ? need : null;
}

function replicasOn(receiver: Receiver, node: NodeState): number {
  return Math.floor(receiver.heldOn[node.index]! / receiver.k);
}

/**
 * Where the receiver's next replica goes, from the first source that has room:
 *  1. free GPUs, or replicas an idle deployment would return to the pool anyway (taking
 *     those saves moving them twice);
 *  2. one deployment that can spare replicas, plus free GPUs;
 *  3. several such deployments on one node;
 *  4. room made by moving other deployments' replicas to free GPUs on other nodes.
 * Within a source, the node running fewest of the receiver's replicas wins, then fewest
 * moves; then the better donor, the tightest fit and hostname order decide.
 */
function placeReplica(fleet: Fleet, receiver: DeploymentState, policy: AllocationPolicy): Placement | null {
  // Free GPUs only ever leave the pool while planning (released ones stay out of it) and
  // spare replicas only get fewer, so these lists only shrink, and a replica size that
  // found no room once finds none later (see Fleet.unplaceableK).
  const whole = isWhole(receiver);
  if (whole && receiver.model.k >= fleet.unplaceableK) return null;
  fleet.freeNodes = fleet.freeNodes.filter((node) => node.free.length > 0);
  fleet.releasing = fleet.releasing.filter((d) => spareReplicas(d, 'release', policy) > 0);
  fleet.donating = fleet.donating.filter((d) => spareReplicas(d, 'donate', policy) > 0);

  const view = receiverView(fleet, receiver);
  const placement =
    placeInFreeOrReleasing(fleet, view, policy) ??
    placeWithOneDonor(fleet, view, policy) ??
    placeWithDonors(fleet, view, policy) ??
    placeByRelocating(fleet, view);
  releaseView(view);
  if (!placement && whole && receiver.held + receiver.model.k <= receiver.model.deployment.maxGpus) {
    fleet.unplaceableK = Math.min(fleet.unplaceableK, receiver.model.k);
  }
  return placement;
}

/** True when the deployment holds whole replicas on every node (so it needs k GPUs on any node). */
function isWhole(d: DeploymentState): boolean {
  for (const holding of d.onNode.values()) if (holding.held % d.model.k !== 0) return false;
  return true;
}

/** The best placement seen so far by a lexicographic key of up to four numbers (lower wins). */
class Choice {
  placement: Placement | null = null;
  private readonly key = [Infinity, Infinity, Infinity, Infinity];

  beats(a: number, b: number, c: number, d: number): boolean {
    const k = this.key;
    if (a !== k[0]) return a < k[0]!;
    if (b !== k[1]) return b < k[1]!;
    if (c !== k[2]) return c < k[2]!;
    return d < k[3]!;
  }

  /** True once the first two keys are 0: for source 1, no replica of the receiver there and nothing from the pool. */
  settled(): boolean {
    return this.key[0] === 0 && this.key[1] === 0;
  }

  take(a: number, b: number, c: number, d: number, placement: Placement): void {
    this.key[0] = a;
    this.key[1] = b;
    this.key[2] = c;
    this.key[3] = d;
    this.placement = placement;
  }
}

/**
 * Source 1: free GPUs, or replicas an idle deployment would return to the pool anyway.
 * Key: fewest of the receiver's replicas on the node, fewest GPUs taken from the pool
 * (each one taken from a releasing deployment saves a move), best donor, tightest fit, node.
 */
function placeInFreeOrReleasing(
  fleet: Fleet,
  receiver: Receiver,
  policy: AllocationPolicy,
): Placement | null {
  const choice = new Choice();
  const tightnessOf = (slack: number, node: NodeState) => slack * fleet.nodes.length + node.index;
  for (const node of fleet.freeNodes) {
    const need = gpusNeededOn(receiver, node);
    if (need === null || node.free.length < need) continue;
    const spread = replicasOn(receiver, node);
    const tightness = tightnessOf(node.free.length - need, node);
    if (choice.beats(spread, need, -1, tightness)) {
      choice.take(spread, need, -1, tightness, { node, need, donations: [] });
    }
  }
  for (const donor of fleet.releasing) {
    // Donors come in rank order: once a placement needs nothing from the pool on a node
    // without the receiver's replicas, no later donor can beat it.
    if (choice.settled()) break;
    if (donor === receiver.d) continue;
    const kd = donor.model.k;
    const spare = spareReplicas(donor, 'release', policy);
    for (const [n, holding] of donor.onNode) {
      const node = fleet.nodes[n]!;
      const need = gpusNeededOn(receiver, node);
      if (need === null) continue;
      const replicas = Math.min(spare, movableReplicas(holding, kd), Math.ceil(need / kd));
      const fromFree = need - Math.min(need, replicas * kd);
      if (replicas < 1 || fromFree > node.free.length) continue;
      const spread = replicasOn(receiver, node);
      const tightness = tightnessOf(node.free.length - fromFree, node);
      if (choice.beats(spread, fromFree, donor.donorRank, tightness)) {
        choice.take(spread, fromFree, donor.donorRank, tightness, {
          node,
          need,
          donations: [{ donor, replicas }],
        });
      }
    }
  }
  return choice.placement;
}

/** Source 2: one deployment that can spare replicas (plus free GPUs), best donor first. */
function placeWithOneDonor(fleet: Fleet, receiver: Receiver, policy: AllocationPolicy): Placement | null {
  for (const donor of fleet.donating) {
    if (donor === receiver.d) continue;
    const choice = new Choice();
    const spare = spareReplicas(donor, 'donate', policy);
    const kd = donor.model.k;
    for (const [n, holding] of donor.onNode) {
      const node = fleet.nodes[n]!;
      const need = gpusNeededOn(receiver, node);
      if (need === null) continue;
      const replicas = Math.ceil((need - node.free.length) / kd);
      if (replicas < 1 || replicas > spare || replicas > movableReplicas(holding, kd)) continue;
      const spread = replicasOn(receiver, node);
      const moves = need + Math.max(0, replicas * kd - need);
      if (choice.beats(spread, moves, node.index, 0)) {
        choice.take(spread, moves, node.index, 0, { node, need, donations: [{ donor, replicas }] });
      }
    }
    // Donors are in preference order: the first that can help is the one to take from.
    if (choice.placement) return choice.placement;
  }
  return null;
}

/** Source 3: several deployments that can spare replicas on one node. */
function placeWithDonors(fleet: Fleet, receiver: Receiver, policy: AllocationPolicy): Placement | null {
  const choice = new Choice();
  for (const node of fleet.nodes) {
    const need = gpusNeededOn(receiver, node);
    if (need === null || spareOn(fleet, node, receiver, policy) + node.free.length < need) continue;
    const candidates = holdersByRank(fleet, node, receiver).filter(
      (d) => spareReplicas(d, 'donate', policy) > 0,
    );
    let gathered = node.free.length;
    let released = 0;
    let worstRank = -1;
    const donations: Donation[] = [];
    for (const donor of candidates) {
      if (gathered >= need) break;
      const kd = donor.model.k;
      const available = Math.min(
        spareReplicas(donor, 'donate', policy),
        movableReplicas(node.holders.get(donor.index)!, kd),
      );
      const replicas = Math.min(available, Math.ceil((need - gathered) / kd));
      if (replicas < 1) continue;
      donations.push({ donor, replicas });
      gathered += replicas * kd;
      released += replicas * kd;
      worstRank = donor.donorRank;
    }
    if (gathered < need || donations.length === 0) continue;
    const spread = replicasOn(receiver, node);
    const moves = need + Math.max(0, released - need);
    if (choice.beats(worstRank, spread, moves, node.index)) {
      choice.take(worstRank, spread, moves, node.index, { node, need, donations });
    }
  }
  return choice.placement;
}

/** GPUs in replicas that deployments other than `receiver` could donate on the node (an upper bound). */
function spareOn(fleet: Fleet, node: NodeState, receiver: Receiver, policy: AllocationPolicy): number {
  let gpus = 0;
  for (const [i, holding] of node.holders) {
    const d = fleet.deployments[i]!;
    if (d !== receiver.d && spareReplicas(d, 'donate', policy) > 0)
      gpus += movableReplicas(holding, d.model.k) * d.model.k;
  }
  return gpus;
}

/** The deployments with GPUs on the node other than `receiver`, in donor order. */
function holdersByRank(fleet: Fleet, node: NodeState, receiver: Receiver): DeploymentState[] {
  const holders: DeploymentState[] = [];
  for (const i of node.holders.keys()) if (i !== receiver.d.index) holders.push(fleet.deployments[i]!);
  return holders.sort((a, b) => a.donorRank - b.donorRank);
}

/**
 * Makes room on a node by moving whole replicas of other deployments to free GPUs on
 * other nodes (their replica count stays the same), when free GPUs exist but none of
 * them on one node in a block large enough for the receiver's replica.
 */
function placeByRelocating(fleet: Fleet, receiver: Receiver): Placement | null {
  /** Nodes by how many free GPUs they have, each list in node order. */
  const byFree: NodeState[][] = [];
  for (const node of fleet.nodes) {
    const count = node.free.length;
    if (count === 0) continue;
    const bucket = byFree[count];
    if (bucket) bucket.push(node);
    else byFree[count] = [node];
  }
  if (byFree.length === 0) return null;
  const choice = new Choice();
  for (const node of fleet.nodes) {
    const need = gpusNeededOn(receiver, node);
    if (need === null) continue;
    let gathered = node.free.length;
    let released = 0;
    const taken = new Map<NodeState, number>();
    const donations: Donation[] = [];
    for (const donor of holdersByRank(fleet, node, receiver)) {
      const kd = donor.model.k;
      let movable = movableReplicas(node.holders.get(donor.index)!, kd);
      while (gathered < need && movable > 0) {
        const target = roomFor(byFree, kd, node, taken);
        if (!target) break;
        taken.set(target, (taken.get(target) ?? 0) + kd);
        donations.push({ donor, replicas: 1, relocateTo: target });
        gathered += kd;
        released += kd;
        movable -= 1;
      }
      if (gathered >= need) break;
    }
    if (gathered < need || donations.length === 0) continue;
    // Moves: the receiver's GPUs, the relocated replicas' new GPUs, and what returns to the pool.
    const moves = need + released + Math.max(0, released - need);
    const spread = replicasOn(receiver, node);
    if (choice.beats(moves, spread, node.index, 0))
      choice.take(moves, spread, node.index, 0, { node, need, donations });
  }
  return choice.placement;
}

/** The node with the fewest free GPUs that still fit `k` more (after `taken`), other than `except`. */
function roomFor(
  byFree: NodeState[][],
  k: number,
  except: NodeState,
  taken: Map<NodeState, number>,
): NodeState | null {
  for (let count = k; count < byFree.length; count++) {
    for (const node of byFree[count] ?? []) {
      if (node !== except && count - (taken.get(node) ?? 0) >= k) return node;
    }
  }
  return null;
}

function ownerRef(fleet: Fleet, owner: number): OwnerRef {
  return owner >= 0 ? { deploymentId: fleet.deployments[owner]!.model.deployment.id } : null;
}

function moveOf(fleet: Fleet, g: number, from: number, to: number): PlanStep['moves'][number] {
  const gpu = fleet.input.gpus[g]!;
  return {
    gpuId: gpu.id,
    gpuLabel: gpu.label,
    nodeId: gpu.nodeId,
    from: ownerRef(fleet, from),
    to: ownerRef(fleet, to),
  };
}

function changeHolding(d: DeploymentState, node: NodeState, delta: number): Holding {
  let holding = node.holders.get(d.index);
  if (!holding) {
    holding = { held: 0, movable: [] };
    node.holders.set(d.index, holding);
    d.onNode.set(node.index, holding);
  }
  const { k } = d.model;
  d.replicas += Math.floor((holding.held + delta) / k) - Math.floor(holding.held / k);
  holding.held += delta;
  d.held += delta;
  d.touched = true;
  d.spareToDonate = undefined;
  d.spareToRelease = undefined;
  if (holding.held === 0) {
    node.holders.delete(d.index);
    d.onNode.delete(node.index);
  }
  return holding;
}

function applyPlacement(
  fleet: Fleet,
  receiver: DeploymentState,
  placement: Placement,
  policy: AllocationPolicy,
): Omit<PlanStep, 'id'> {
  const { node, need, donations } = placement;
  const reasonBefore = growthReason(receiver, policy);
  const moves: PlanStep['moves'] = [];
  let fromDonors = 0;
  for (const { donor, replicas, relocateTo } of donations) {
    const holding = node.holders.get(donor.index)!;
    const gpus = holding.movable.splice(holding.movable.length - replicas * donor.model.k);
    changeHolding(donor, node, -gpus.length);
    if (relocateTo) {
      for (const g of relocateTo.free.splice(0, gpus.length)) moves.push(moveOf(fleet, g, FREE, donor.index));
      relocateTo.unowned -= gpus.length;
      changeHolding(donor, relocateTo, gpus.length);
    }
    for (const g of gpus) {
      if (fromDonors < need) {
        moves.push(moveOf(fleet, g, donor.index, receiver.index));
        fromDonors += 1;
      } else {
        // The rest of a donated replica the receiver cannot use goes back to the pool.
        moves.push(moveOf(fleet, g, donor.index, FREE));
        node.unowned += 1;
      }
    }
  }
  for (const g of node.free.splice(0, need - fromDonors)) {
    moves.push(moveOf(fleet, g, FREE, receiver.index));
    node.unowned -= 1;
  }
  changeHolding(receiver, node, need);
  receiver.grown = true;

  const relocated = donations.filter((d) => d.relocateTo);
  const source =
    donations.length === 0
      ? `from the free pool on ${node.host}`
      : relocated.length > 0
        ? `on ${node.host}, moving ${relocated.map(({ donor, relocateTo }) => `a ${donor.model.deployment.name} replica to ${relocateTo!.host}`).join(', ')}`
        : `from ${donations.map(({ donor }) => donorLabel(donor)).join(', ')} on ${node.host}`;
  const predicted = predictFromFit(receiver.model.fit, receiver.replicas);
  const outcome = predicted === null ? '' : `, p95 predicted ${formatMs(predicted)} ms`;
  return {
    kind: 'grow',
    deploymentId: receiver.model.deployment.id,
    reason: `${reasonBefore}: +${gpuCount(need)} ${source} (replica ${receiver.replicas}${outcome})`,
    moves,
  };
}

/** Where the deployment gives back a replica: the node it runs most replicas on, then the emptiest. */
function releaseNode(fleet: Fleet, d: DeploymentState): NodeState | null {
  let best: NodeState | null = null;
  let bestReplicas = 0;
  for (const [n, holding] of d.onNode) {
    if (movableReplicas(holding, d.model.k) < 1) continue;
    const node = fleet.nodes[n]!;
    const replicas = Math.floor(holding.held / d.model.k);
    if (
      !best ||
      replicas > bestReplicas ||
      (replicas === bestReplicas &&
        (node.unowned > best.unowned || (node.unowned === best.unowned && node.index < best.index)))
    ) {
      best = node;
      bestReplicas = replicas;
    }
  }
  return best;
}

function applyRelease(fleet: Fleet, d: DeploymentState, node: NodeState): Omit<PlanStep, 'id'> {
  const { k, deployment, fit } = d.model;
  const holding = node.holders.get(d.index)!;
  const gpus = holding.movable.splice(holding.movable.length - k);
  const moves = gpus.map((g) => moveOf(fleet, g, d.index, FREE));
  node.unowned += gpus.length;
  changeHolding(d, node, -gpus.length);
  const predicted = predictFromFit(fit, d.replicas);
  const outcome =
    predicted === null
      ? `SLO ${formatMs(deployment.sloP95Ms)} ms`
      : `p95 predicted ${formatMs(predicted)} ms, SLO ${formatMs(deployment.sloP95Ms)} ms`;
  return {
    kind: 'reclaim',
    deploymentId: deployment.id,
    reason: `${usageLabel(d)}: release ${gpuCount(k)} on ${node.host} to the free pool (${outcome})`,
    moves,
  };
}

function growthReason(d: DeploymentState, policy: AllocationPolicy): string {
  const { deployment, fit } = d.model;
  const slo = `${formatMs(deployment.sloP95Ms)} ms SLO`;
  if (d.need === 'under-min')
    return `${deployment.name} holds ${gpuCount(d.held)}, under its minimum of ${deployment.minGpus}`;
  const p95 = deployment.p95Ms === null ? 'p95 unknown' : `p95 ${formatMs(deployment.p95Ms)} ms`;
  if (d.need === 'over-slo') return `${deployment.name} ${p95} over its ${slo}`;
  const busy = fit.kind === 'queue' || fit.kind === 'scaled' ? ` at ${Math.round(fit.rho * 100)} % load` : '';
  return `${deployment.name} ${p95}${busy}, short of ${Math.round((1 - policy.targetSloShare) * 100)} % headroom under its ${slo}`;
}

function donorLabel(d: DeploymentState): string {
  const { deployment, fit } = d.model;
  if (fit.kind === 'idle') return `${deployment.name}, no traffic`;
  if (d.model.idle && deployment.utilizationPct !== null)
    return `${deployment.name}, idle ${Math.round(100 - deployment.utilizationPct)} %`;
  return deployment.name;
}

function usageLabel(d: DeploymentState): string {
  const { deployment, fit } = d.model;
  if (fit.kind === 'idle') return `${deployment.name} has no traffic`;
  if (deployment.utilizationPct === null) return `${deployment.name} has spare replicas`;
  if (d.model.idle) return `${deployment.name} idle ${Math.round(100 - deployment.utilizationPct)} %`;
  return `${deployment.name} at ${Math.round(deployment.utilizationPct)} % utilization`;
}

function effectOf(d: DeploymentState): DeploymentEffect {
  const { deployment, fit } = d.model;
  return {
    deploymentId: deployment.id,
    name: deployment.name,
    sloP95Ms: deployment.sloP95Ms,
    gpusBefore: d.heldBefore,
    gpusAfter: d.held,
    replicasBefore: d.replicasBefore,
    replicasAfter: d.replicas,
    p95BeforeMs: deployment.p95Ms,
    p95PredictedMs: predictFromFit(fit, d.replicas),
  };
}

function gpuCount(n: number): string {
  return n === 1 ? '1 GPU' : `${n} GPUs`;
}

function formatMs(ms: number): string {
  return Math.round(ms).toLocaleString('en-US');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
