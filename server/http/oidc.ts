import type { IncomingMessage, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import { safeNextPath } from '../../components/auth/redirect';
import { clientAddress } from '../auth/login-throttle';
import {
  groupsOf,
  OidcRefusal,
  oidcDiscovery,
  oidcSettings,
  roleForGroups,
  userForIdentity,
  usernameFromClaims,
} from '../auth/oidc';
import { hashSecret } from '../auth/secrets';
import { readCookie, sessionCookie, startSession } from '../auth/sessions';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { sendJson } from './json';

const log = logger('oidc');

export const OIDC_START_PATH = '/api/auth/oidc/start';
export const OIDC_CALLBACK_PATH = '/api/auth/oidc/callback';

/** Binds the provider's answer to the browser that asked: it names the pending sign-in below. */
const FLOW_COOKIE = 'sy_oidc';
const FLOW_TTL_MS = 10 * 60_000;

/**
 * GET /api/auth/oidc/start and /api/auth/oidc/callback: the authorization code flow with
 * PKCE (S256), state and nonce, through openid-client. The verifier and nonce stay on the
 * server, in Postgres keyed by the state's hash (so the callback may reach any server, or
 * come after a restart); the state also rides in a short-lived HttpOnly cookie. So a callback
 * is accepted once, only within ten minutes, and only in the browser that started it.
 */
export function createOidcRoutes(runtime: Runtime) {
  const settings = oidcSettings(runtime.env);
  if (!settings) return null;
  const configuration = oidcDiscovery(settings);
  const secure = runtime.env.SWITCHYARD_SECURE_COOKIES === 'true';

  function redirectUrlFor(req: IncomingMessage): string {
    if (settings!.redirectUrl) return settings!.redirectUrl;
    return `${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${OIDC_CALLBACK_PATH}`;
  }

  function toLogin(res: ServerResponse, code: string, next?: string, cookies: string[] = []): void {
    const query = new URLSearchParams({ error: code });
    if (next && next !== '/') query.set('next', next);
    res.writeHead(302, { location: `/login?${query}`, 'set-cookie': [...cookies, clearedFlowCookie()] });
    res.end();
  }

  async function start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET')
      return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const next = safeNextPath(url.searchParams.get('next'));
    let config: client.Configuration;
    try {
      config = await configuration();
    } catch (error) {
      log.error(`could not read the provider's metadata at ${settings!.issuer}`, error);
      return toLogin(res, 'sso_unavailable', next);
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    const redirectUrl = redirectUrlFor(req);
    await runtime.db.oidcSignIn.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    await runtime.db.oidcSignIn.create({
      data: {
        stateHash: hashSecret(state),
        codeVerifier,
        nonce,
        next,
        redirectUrl,
        expiresAt: new Date(Date.now() + FLOW_TTL_MS),
      },
    });
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUrl,
      scope: settings!.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    res.writeHead(302, { location: authorizationUrl.href, 'set-cookie': flowCookie(state) });
    res.end();
  }

  async function callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET')
      return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const state = url.searchParams.get('state');
    const flow = state ? await takePendingSignIn(state) : null;
    if (
      !state ||
      !flow ||
      flow.expiresAt.getTime() < Date.now() ||
      readCookie(req.headers.cookie, FLOW_COOKIE) !== state
    ) {
      return toLogin(res, 'sso_expired');
    }
    const providerError = url.searchParams.get('error');
    if (providerError) {
      log.warn(
        `the provider refused the sign-in: ${providerError} ${url.searchParams.get('error_description') ?? ''}`,
      );
      return toLogin(res, 'sso_failed', flow.next);
    }
    const address = clientAddress(req);
    try {
      const config = await configuration();
      // The URL the provider sent the browser to, as registered (not as this socket saw it).
      const currentUrl = new URL(flow.redirectUrl);
      currentUrl.search = url.search;
      const tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('the provider returned no ID token');
      let claims: Record<string, unknown> = idClaims;
      // Many providers put profile and group claims only in the userinfo answer.
      if (groupsOf(claims, settings!.groupsClaim) === null && config.serverMetadata().userinfo_endpoint) {
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...userinfo, ...idClaims, ...pick(userinfo, settings!.groupsClaim) };
      }
      const groups = groupsOf(claims, settings!.groupsClaim) ?? [];
      const user = await userForIdentity(runtime.db, {
        issuer: idClaims.iss,
        subject: idClaims.sub,
        username: usernameFromClaims(claims, idClaims.sub),
        groups,
        role: roleForGroups(settings!.roleMap, groups),
        address,
      });
      const session = await startSession(runtime.db, user, {
        ttlHours: runtime.env.SWITCHYARD_SESSION_TTL_HOURS,
        userAgent: req.headers['user-agent'],
        address,
        method: 'oidc',
      });
      res.writeHead(302, {
        location: flow.next,
        'set-cookie': [sessionCookie(session.sessionToken, session.expiresAt, secure), clearedFlowCookie()],
      });
      res.end();
    } catch (error) {
      if (error instanceof OidcRefusal) {
        log.warn(`single sign-on refused: ${error.message}`);
        return toLogin(res, error.code, flow.next);
      }
      log.error('single sign-on failed', error);
      return toLogin(res, 'sso_failed', flow.next);
    }
  }

  /** Deleting the row is what makes a callback work once, even when two race on two servers. */
  async function takePendingSignIn(state: string) {
    const rows = await runtime.db.$queryRaw<
      { codeVerifier: string; nonce: string; next: string; redirectUrl: string; expiresAt: Date }[]
    >`DELETE FROM "OidcSignIn" WHERE "stateHash" = ${hashSecret(state)}
      RETURNING "codeVerifier", "nonce", "next", "redirectUrl", "expiresAt"`;
    return rows[0] ?? null;
  }

  function flowCookie(state: string): string {
    return [
      `${FLOW_COOKIE}=${state}`,
      `Path=${OIDC_CALLBACK_PATH}`,
      'HttpOnly',
      // Lax: sent on the provider's top-level redirect back to the callback.
      'SameSite=Lax',
      `Max-Age=${FLOW_TTL_MS / 1000}`,
      ...(secure ? ['Secure'] : []),
    ].join('; ');
  }

  function clearedFlowCookie(): string {
    return `${FLOW_COOKIE}=; Path=${OIDC_CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0`;
  }

  return { start, callback };
}

function pick(source: Record<string, unknown>, key: string): Record<string, unknown> {
  return key in source ? { [key]: source[key] } : {};
}
