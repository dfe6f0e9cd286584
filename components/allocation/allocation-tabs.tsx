'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';

const TABS = [
  { href: '/allocations', label: 'Board' },
  { href: '/allocations/plan', label: 'Plan' },
  { href: '/allocations/history', label: 'History' },
] as const;

/** The allocation pages' own navigation. */
export function AllocationTabs() {
  const pathname = usePathname();
  return (
    <nav className="allocation-tabs" aria-label="Allocation views">
      {TABS.map((tab) => {
        const active = pathname === tab.href;
        return (
          <Link
            key={tab.href}
            href={tab.href}
            className={active ? 'allocation-tab active' : 'allocation-tab'}
            aria-current={active ? 'page' : undefined}
          >
            {tab.label}
          </Link>
        );
      })}
    </nav>
  );
}
