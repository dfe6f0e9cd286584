import type { ApiScope, Role } from '../generated/prisma/client';

/** Who is calling: an operator in a browser, or a script with an API token. */
export type Principal =
  | { kind: 'user'; id: string; name: string; role: Role }
  | { kind: 'token'; id: string; name: string; scopes: ApiScope[]; ownerId: string; ownerRole: Role };

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}
