import type { Metadata } from 'next';
import { EnrollmentView } from './enrollment-view';

export const metadata: Metadata = { title: 'Clusters and enrollment' };

export default function EnrollmentPage() {
  return <EnrollmentView />;
}
