import type { Role } from '@/server/generated/prisma/client';

export type { Role };

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** What each role may do, in the words the top bar's tooltip and the Users page use. */
export const ROLE_SUMMARY: Record<Role, string> = {
  viewer: 'reads the fleet',
  operator: 'also moves GPUs, cordons and runs stress tests',
  admin: 'also manages users, tokens and nodes',
};

/**
 * The console's actions, each with the procedures it calls and the least role the server
 * asks of them (components/auth/permissions.test.ts checks these against the server's
 * builders, so the console cannot drift from what the server enforces). `does` names the
 * action in a sentence: "Moving GPUs needs the operator role".
 */
export const ACTIONS = {
  moveGpus: { does: 'Moving GPUs', role: 'operator', procedures: ['allocation.submit'] },
  applyPlan: { does: 'Applying a plan', role: 'operator', procedures: ['allocation.submit'] },
  changeAutoMode: { does: 'Changing auto mode', role: 'operator', procedures: ['allocation.setAuto'] },
  cordon: { does: 'Cordoning', role: 'operator', procedures: ['fleet.cordonGpu', 'fleet.cordonNode'] },
  startStress: {
    does: 'Starting a stress test',
    role: 'operator',
    procedures: ['stress.start', 'stress.startCapacitySearch'],
  },
  abortStress: { does: 'Stopping a stress test', role: 'operator', procedures: ['stress.abort'] },
  manageNodeIdentity: {
    does: 'Replacing, revoking or removing a node',
    role: 'admin',
    procedures: ['admin.createReplacementToken', 'admin.revokeNodeCredentials', 'admin.removeNode'],
  },
  manageUsers: {
    does: 'Managing users',
    role: 'admin',
    procedures: [
      'users.list',
      'users.create',
      'users.setRole',
      'users.disable',
      'users.enable',
      'users.resetPassword',
    ],
  },
  manageApiTokens: {
    does: 'Managing API tokens',
    role: 'admin',
    procedures: ['admin.listApiTokens', 'admin.createApiToken', 'admin.revokeApiToken'],
  },
  manageEnrollment: {
    does: 'Managing clusters and enrollment tokens',
    role: 'admin',
    procedures: [
      'clusters.list',
      'clusters.create',
      'clusters.enrollmentTokens',
      'clusters.createEnrollmentToken',
      'clusters.revokeEnrollmentToken',
      'admin.createEnrollmentToken',
    ],
  },
  readAuditLog: { does: 'Reading the audit log', role: 'admin', procedures: ['audit.list'] },
} as const satisfies Record<string, { does: string; role: Role; procedures: readonly string[] }>;

export type Action = keyof typeof ACTIONS;

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/** Whether `role` may take `action`; nobody may while the role is unknown. */
export function allowed(role: Role | null, action: Action): boolean {
  return role !== null && roleAtLeast(role, ACTIONS[action].role);
}

/**
 * Why `role` may not take `action` ("Moving GPUs needs the operator role; you are a
 * viewer."), or null when it may — or while the role is not known yet, so that nobody is
 * told off while the console is still asking who they are.
 */
export function refusal(role: Role | null, action: Action): string | null {
  if (role === null || allowed(role, action)) return null;
  const { does, role: needed } = ACTIONS[action];
  return `${does} needs the ${needed} role; you are ${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}.`;
}
