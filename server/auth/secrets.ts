import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer secrets (session cookies, API tokens, enrollment tokens, node credentials, one-time
 * set-password links) are 32 random bytes; the database keeps only their SHA-256. A fast
 * hash is right here: the secrets carry 256 bits of entropy, so there is nothing to
 * brute-force. Passwords, which people choose, use argon2 instead (passwords.ts).
 */
export type SecretKind = 'sess' | 'syt' | 'enr' | 'node' | 'pwl';

export function newSecret(kind: SecretKind): string {
  return `${kind}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretPrefix(secret: string): string {
  return secret.slice(0, 12);
}
