'use client';

import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type ReactNode, useState } from 'react';
import { z } from 'zod';
import { isUnauthorized, redirectToLogin } from '@/components/auth/redirect';
import { TRPCProvider } from '@/components/trpc/client';
import type { AppRouter } from '@/server/trpc/root';

// The pages run under a Content-Security-Policy without 'unsafe-eval' (server/http/
// security-headers.ts); zod's probe for `new Function` would be reported as a violation.
z.config({ jitless: true });

function onError(error: unknown): void {
  // A missing or expired session anywhere sends the person to the sign-in page.
  if (isUnauthorized(error)) redirectToLogin();
}

function makeQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        refetchOnWindowFocus: false,
        retry: (failureCount, error) => {
          if (isUnauthorized(error)) return false;
          const status = (error as { data?: { httpStatus?: number } }).data?.httpStatus;
          // Client errors (not found, bad input, forbidden) will not change on retry.
          if (status !== undefined && status >= 400 && status < 500) return false;
          return failureCount < 2;
        },
      },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    // The server takes at most 10 calls in one batch (server/http/request-guards.ts).
    createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/api/trpc', maxItems: 10 })] }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
