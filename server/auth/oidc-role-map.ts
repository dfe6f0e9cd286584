import type { Role } from '../generated/prisma/enums';

/**
 * SWITCHYARD_OIDC_ROLE_MAP: comma-separated `group=role` entries, e.g.
 * `gpu-admins=admin,ml-ops=operator,*=viewer`. A person gets the highest role of all their
 * groups that are listed; `*` is the role of anyone whose groups match no entry. Without a
 * `*` entry, someone in no listed group is refused. Group names are matched exactly (case
 * matters, as providers send them); the last `=` separates the role, so a group name may
 * contain `=` (`cn=gpu-admins=admin`) but not a comma.
 */
export type RoleMap = { groups: Map<string, Role>; fallback: Role | null };

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function parseRoleMap(text: string): RoleMap {
  const groups = new Map<string, Role>();
  let fallback: Role | null = null;
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('has no entries; write group=role, e.g. ml-ops=operator');
  for (const entry of entries) {
    const eq = entry.lastIndexOf('=');
    const group = entry.slice(0, Math.max(eq, 0)).trim();
    const role = entry.slice(eq + 1).trim();
    if (eq <= 0 || !group) throw new Error(`"${entry}" is not group=role`);
    if (!ROLES.includes(role as Role))
      throw new Error(`"${entry}": the role must be one of ${ROLES.join(', ')}`);
    if (group === '*') {
      if (fallback) throw new Error('"*" is given twice');
      fallback = role as Role;
    } else {
      if (groups.has(group)) throw new Error(`the group "${group}" is given twice`);
      groups.set(group, role as Role);
    }
  }
  return { groups, fallback };
}

/** The highest role any of the groups maps to, else the `*` role, else null (refused). */
export function roleForGroups(map: RoleMap, memberOf: readonly string[]): Role | null {
  let best: Role | null = null;
  for (const group of memberOf) {
    const role = map.groups.get(group);
    if (role && (best === null || RANK[role] > RANK[best])) best = role;
  }
  return best ?? map.fallback;
}
