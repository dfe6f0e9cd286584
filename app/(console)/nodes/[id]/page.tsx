import type { Metadata } from 'next';
import { NodeDetailView } from './node-detail-view';

export const metadata: Metadata = { title: 'Node' };

export default async function NodePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <NodeDetailView id={id} />;
}
