import { describe, expect, it } from 'vitest';
import { procedureAccess } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import { ACTIONS, type Action, allowed, refusal } from './permissions';

const procedures = appRouter._def.procedures as unknown as Record<string, unknown>;

describe('the console’s permissions', () => {
  it('ask for exactly the role the server enforces on every procedure an action calls', () => {
    for (const [action, { role, procedures: paths }] of Object.entries(ACTIONS)) {
      for (const path of paths) {
        expect(procedures[path], `${action}: ${path} exists`).toBeDefined();
        expect(procedureAccess(procedures[path]).role, `${action}: ${path}`).toBe(role);
      }
    }
  });

  it('cover every operator and admin procedure, so a new one gets a reason too', () => {
    const covered = new Set<string>(Object.values(ACTIONS).flatMap((a) => a.procedures));
    const gated = Object.entries(procedures)
      .filter(([, procedure]) => procedureAccess(procedure).role !== 'viewer')
      .filter(([, procedure]) => procedureAccess(procedure).role !== null)
      .map(([path]) => path);
    expect(gated.filter((path) => !covered.has(path))).toEqual([]);
  });

  it('let a role take what its rank allows, and say why not otherwise', () => {
    expect(allowed('viewer', 'moveGpus')).toBe(false);
    expect(allowed('operator', 'moveGpus')).toBe(true);
    expect(allowed('operator', 'manageUsers')).toBe(false);
    expect(allowed('admin', 'manageUsers')).toBe(true);
    expect(refusal('viewer', 'moveGpus')).toBe('Moving GPUs needs the operator role; you are a viewer.');
    expect(refusal('operator', 'manageNodeIdentity')).toBe(
      'Replacing, revoking or removing a node needs the admin role; you are an operator.',
    );
    expect(refusal('admin', 'moveGpus')).toBeNull();
  });

  it('refuse nothing, and say nothing, while the role is unknown', () => {
    for (const action of Object.keys(ACTIONS) as Action[]) {
      expect(allowed(null, action)).toBe(false);
      expect(refusal(null, action)).toBeNull();
    }
  });
});
