import type { Metadata } from 'next';
import { DeploymentDetailView } from './deployment-detail-view';

export const metadata: Metadata = { title: 'Deployment' };

export default async function DeploymentPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <DeploymentDetailView id={id} />;
}
