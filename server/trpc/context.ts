import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, type LoginThrottle } from '../auth/login-throttle';
import type { Principal } from '../auth/principal';
import { principalFromApiToken, principalFromSession, readCookie, SESSION_COOKIE } from '../auth/sessions';
import type { Runtime } from '../runtime';

export type Context = {
  runtime: Runtime;
  principal: Principal | null;
  /** The caller's address as the socket sees it (IPv6 by /64): login throttling counts by it. */
  clientAddress: string;
  loginThrottle: LoginThrottle;
  req: IncomingMessage;
  res: ServerResponse;
};

/** Resolves the caller from `Authorization: Bearer <api token>` or the session cookie. */
export async function resolvePrincipal(runtime: Runtime, req: IncomingMessage): Promise<Principal | null> {
  const authorization = req.headers.authorization;
  if (authorization?.startsWith('Bearer ')) {
    return principalFromApiToken(runtime.db, authorization.slice('Bearer '.length).trim());
  }
  const session = readCookie(req.headers.cookie, SESSION_COOKIE);
  return session ? principalFromSession(runtime.db, session) : null;
}

export function contextFactory(runtime: Runtime, loginThrottle: LoginThrottle) {
  return async ({ req, res }: { req: IncomingMessage; res: ServerResponse }): Promise<Context> => ({
    runtime,
    principal: await resolvePrincipal(runtime, req),
    clientAddress: clientAddress(req),
    loginThrottle,
    req,
    res,
  });
}
