import type { Metadata } from 'next';
import { HistoryView } from './history-view';

export const metadata: Metadata = { title: 'Allocation history' };

export default function AllocationHistoryPage() {
  return <HistoryView />;
}
