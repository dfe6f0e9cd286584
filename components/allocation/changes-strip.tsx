import Link from 'next/link';
import { fmtAgo } from '@/components/format';
import type { AllocationChangeView } from '@/lib/allocation/types';
import { NodeResults } from './change-details';
import { ChangeStateBadge } from './change-state';
import { isInFlight, type OwnerNames, summarizeMoves } from './model';

/** Finished changes stay on the strip this long, so a failure is not missed. */
const RECENT_MS = 15 * 60_000;
const RECENT_MAX = 3;

/**
 * What is changing now: every pending or applying change with each node's answer so far,
 * and the last few that finished (rolled-back ones with why).
 */
export function ChangesStrip({
  changes,
  names,
  hiddenIds,
}: {
  changes: readonly AllocationChangeView[];
  names: OwnerNames;
  /** Changes shown elsewhere on the page (the one this person just submitted). */
  hiddenIds: ReadonlySet<string>;
}) {
  const now = Date.now();
  const shown = changes.filter((c) => !hiddenIds.has(c.id));
  const inFlight = shown.filter(isInFlight);
  const recent = shown
    .filter((c) => !isInFlight(c) && c.finishedAt && now - Date.parse(c.finishedAt) < RECENT_MS)
    .slice(0, RECENT_MAX);
  if (inFlight.length === 0 && recent.length === 0) return null;
  return (
    <section className="changes-strip" data-testid="changes-strip" aria-label="Allocation changes">
      {[...inFlight, ...recent].map((change) => (
        <ChangeCard key={change.id} change={change} names={names} now={now} />
      ))}
      <Link href="/allocations/history" className="changes-strip-more small">
        All changes →
      </Link>
    </section>
  );
}

function ChangeCard({
  change,
  names,
  now,
}: {
  change: AllocationChangeView;
  names: OwnerNames;
  now: number;
}) {
  return (
    <article
      className={`change-card change-card-${change.state}`}
      data-testid="strip-change"
      data-change-id={change.id}
      data-state={change.state}
    >
      <div className="change-card-head">
        <ChangeStateBadge state={change.state} />
        <span className="small">{summarizeMoves(change.moves, names)}</span>
      </div>
      <div className="muted small">
        {change.actorName} · {change.source} · {fmtAgo(change.createdAt, now)}
      </div>
      <div className="small change-card-reason" title={change.reason}>
        {change.reason}
      </div>
      {isInFlight(change) && <NodeResults nodes={change.nodes} />}
      {change.state === 'rolled_back' && change.outcome && (
        <p className="text-bad small change-card-outcome">{change.outcome}</p>
      )}
    </article>
  );
}
