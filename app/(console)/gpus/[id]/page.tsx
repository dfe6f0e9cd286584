import type { Metadata } from 'next';
import { GpuDetailView } from './gpu-detail-view';

export const metadata: Metadata = { title: 'GPU' };

export default async function GpuPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <GpuDetailView id={id} />;
}
