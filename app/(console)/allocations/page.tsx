import type { Metadata } from 'next';
import { BoardView } from './board-view';

export const metadata: Metadata = { title: 'Allocations' };

export default function AllocationsPage() {
  return <BoardView />;
}
