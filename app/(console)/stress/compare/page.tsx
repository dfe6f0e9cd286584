import type { Metadata } from 'next';
import { CompareView } from './compare-view';

export const metadata: Metadata = { title: 'Compare stress runs' };

export default async function ComparePage({
  searchParams,
}: {
  searchParams: Promise<{ a?: string; b?: string }>;
}) {
  const { a, b } = await searchParams;
  return <CompareView a={typeof a === 'string' ? a : ''} b={typeof b === 'string' ? b : ''} />;
}
