import * as client from 'openid-client';
import type { Db } from '../db/client';
import type { Env } from '../env';
import type { Role } from '../generated/prisma/enums';
import { logger } from '../log';
import { recordAudit } from '../services/audit/audit-log';
import { parseRoleMap, type RoleMap, roleForGroups } from './oidc-role-map';

const log = logger('oidc');

/** Refusals the login page explains in words (app/login/page.tsx); anything else is `sso_failed`. */
export type OidcErrorCode =
  | 'sso_failed'
  | 'sso_unavailable'
  | 'sso_expired'
  | 'sso_no_role'
  | 'sso_disabled'
  | 'sso_username_taken';

export class OidcRefusal extends Error {
  constructor(
    readonly code: OidcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type OidcSettings = {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  scopes: string;
  groupsClaim: string;
  roleMap: RoleMap;
  redirectUrl: string | undefined;
};

/** The SSO settings, or null when SWITCHYARD_OIDC_ISSUER is not set (env.ts has checked the rest). */
export function oidcSettings(env: Env): OidcSettings | null {
  if (!env.SWITCHYARD_OIDC_ISSUER || !env.SWITCHYARD_OIDC_CLIENT_ID || !env.SWITCHYARD_OIDC_ROLE_MAP)
    return null;
  return {
    issuer: env.SWITCHYARD_OIDC_ISSUER,
    clientId: env.SWITCHYARD_OIDC_CLIENT_ID,
    clientSecret: env.SWITCHYARD_OIDC_CLIENT_SECRET,
    scopes: env.SWITCHYARD_OIDC_SCOPES,
    groupsClaim: env.SWITCHYARD_OIDC_GROUPS_CLAIM,
    roleMap: parseRoleMap(env.SWITCHYARD_OIDC_ROLE_MAP),
    redirectUrl: env.SWITCHYARD_OIDC_REDIRECT_URL,
  };
}

/**
 * The provider's metadata, fetched on first use rather than at start, so Switchyard starts
 * (and password sign-in works) while the provider is unreachable; a failed discovery is
 * retried on the next sign-in.
 */
export function oidcDiscovery(settings: OidcSettings): () => Promise<client.Configuration> {
  let pending: Promise<client.Configuration> | null = null;
  const insecure = new URL(settings.issuer).protocol === 'http:';
  return () => {
    pending ??= client
      .discovery(
        new URL(settings.issuer),
        settings.clientId,
        undefined,
        settings.clientSecret ? client.ClientSecretPost(settings.clientSecret) : client.None(),
        // env.ts allows plain http only for an issuer on this machine.
        insecure ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        pending = null;
        throw error;
      });
    return pending;
  };
}

/** The groups claim as a list: providers send an array, some a single string. */
export function groupsOf(claims: Record<string, unknown>, claim: string): string[] | null {
  const value = claims[claim];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string') return [value];
  return null;
}

const SSO_ACTOR = { kind: 'system', id: null, name: 'sign-in' } as const;

/**
 * The Switchyard user for a person the provider vouched for: found by (issuer, subject),
 * created on their first sign-in, and given the role their groups map to at every sign-in,
 * so a group change at the provider takes effect the next time they sign in.
 */
export async function userForIdentity(
  db: Db,
  identity: {
    issuer: string;
    subject: string;
    username: string;
    groups: string[];
    role: Role | null;
    address: string;
  },
): Promise<{ id: string; username: string; role: Role }> {
  const refuse = async (code: OidcErrorCode, reason: string, userId?: string): Promise<never> => {
    await recordAudit(db, {
      actor: SSO_ACTOR,
      action: 'auth.login.failed',
      targetType: 'user',
      targetId: userId,
      outcome: 'refused',
      reason,
      details: {
        method: 'oidc',
        username: identity.username,
        groups: identity.groups,
        address: identity.address,
      },
    });
    throw new OidcRefusal(code, reason);
  };
  const existing = await db.user.findUnique({
    where: {
      externalIssuer_externalSubject: { externalIssuer: identity.issuer, externalSubject: identity.subject },
    },
  });
  if (existing?.disabledAt) return refuse('sso_disabled', 'account disabled', existing.id);
  if (!identity.role) return refuse('sso_no_role', 'no group of theirs maps to a role', existing?.id);
  const role = identity.role;
  if (existing) {
    if (existing.role !== role) {
      await db.user.update({ where: { id: existing.id }, data: { role } });
      await recordAudit(db, {
        actor: SSO_ACTOR,
        action: 'user.role',
        targetType: 'user',
        targetId: existing.id,
        details: {
          username: existing.username,
          from: existing.role,
          to: role,
          groups: identity.groups,
          method: 'oidc',
        },
      });
    }
    return { id: existing.id, username: existing.username, role };
  }
  const taken = await db.user.findFirst({
    where: { username: { equals: identity.username, mode: 'insensitive' } },
    select: { id: true },
  });
  // Accounts are never linked by name: that would hand a local account to whoever the provider calls by it.
  if (taken)
    return refuse(
      'sso_username_taken',
      `the username ${identity.username} belongs to another account`,
      taken.id,
    );
  const user = await db.user.create({
    data: {
      username: identity.username,
      role,
      passwordHash: null,
      externalIssuer: identity.issuer,
      externalSubject: identity.subject,
    },
  });
  await recordAudit(db, {
    actor: SSO_ACTOR,
    action: 'user.create',
    targetType: 'user',
    targetId: user.id,
    details: { username: user.username, role, groups: identity.groups, method: 'oidc' },
  });
  log.info(`created ${user.username} (${role}) on their first single sign-on`);
  return { id: user.id, username: user.username, role };
}

/** A username from the provider's claims: preferred_username, else email, else the subject. */
export function usernameFromClaims(claims: Record<string, unknown>, subject: string): string {
  for (const key of ['preferred_username', 'email']) {
    const value = claims[key];
    if (typeof value === 'string' && value.trim()) return value.trim().slice(0, 64);
  }
  return subject.slice(0, 64);
}

export { roleForGroups };
