import { describe, expect, it } from 'vitest';
import { parseEnv as parseProcessEnv } from '../../env';
import { parseRoleMap, roleForGroups } from '../oidc-role-map';

describe('SWITCHYARD_OIDC_ROLE_MAP', () => {
  it('gives the highest role among the listed groups', () => {
    const map = parseRoleMap('gpu-admins=admin, ml-ops=operator ,*=viewer');
    expect(roleForGroups(map, ['ml-ops'])).toBe('operator');
    expect(roleForGroups(map, ['ml-ops', 'gpu-admins', 'other'])).toBe('admin');
    expect(roleForGroups(map, ['other'])).toBe('viewer');
    expect(roleForGroups(map, [])).toBe('viewer');
  });

  it('refuses someone in no listed group when there is no * entry', () => {
    const map = parseRoleMap('ml-ops=operator');
    expect(roleForGroups(map, ['finance'])).toBeNull();
    expect(roleForGroups(map, ['ML-OPS'])).toBeNull();
  });

  it('splits at the last =, so a group name may contain =', () => {
    expect(roleForGroups(parseRoleMap('cn=gpu-admins=admin'), ['cn=gpu-admins'])).toBe('admin');
  });

  it.each([
    ['', /no entries/],
    ['ml-ops', /"ml-ops" is not group=role/],
    ['=admin', /is not group=role/],
    ['ml-ops=root', /one of viewer, operator, admin/],
    ['a=admin,a=viewer', /"a" is given twice/],
    ['*=viewer,*=admin', /"\*" is given twice/],
  ])('refuses %j', (text, message) => {
    expect(() => parseRoleMap(text)).toThrow(message);
  });
});

const parseEnv = (vars: Record<string, string>) => parseProcessEnv({ NODE_ENV: 'test', ...vars });

describe('single sign-on settings at start', () => {
  const sso = {
    SWITCHYARD_OIDC_ISSUER: 'https://id.example.com/realms/gpu',
    SWITCHYARD_OIDC_CLIENT_ID: 'switchyard',
    SWITCHYARD_OIDC_ROLE_MAP: 'gpu-admins=admin',
  };

  it('takes a complete configuration, with defaults for scopes and the groups claim', () => {
    const env = parseEnv(sso);
    expect(env.SWITCHYARD_OIDC_SCOPES).toBe('openid profile email groups');
    expect(env.SWITCHYARD_OIDC_GROUPS_CLAIM).toBe('groups');
    expect(env.SWITCHYARD_PASSWORD_LOGIN).toBe('on');
    expect(parseEnv({ ...sso, SWITCHYARD_PASSWORD_LOGIN: 'off' }).SWITCHYARD_PASSWORD_LOGIN).toBe('off');
  });

  it('names each missing or wrong setting', () => {
    expect(() => parseEnv({ SWITCHYARD_OIDC_ISSUER: sso.SWITCHYARD_OIDC_ISSUER })).toThrow(
      /SWITCHYARD_OIDC_CLIENT_ID: required with SWITCHYARD_OIDC_ISSUER[\s\S]*SWITCHYARD_OIDC_ROLE_MAP: required/,
    );
    expect(() => parseEnv({ ...sso, SWITCHYARD_OIDC_ROLE_MAP: 'ml-ops=superuser' })).toThrow(
      /SWITCHYARD_OIDC_ROLE_MAP: "ml-ops=superuser": the role must be one of/,
    );
    expect(() => parseEnv({ SWITCHYARD_OIDC_CLIENT_ID: 'switchyard' })).toThrow(
      /SWITCHYARD_OIDC_ISSUER: required when any other SWITCHYARD_OIDC_\* setting is given/,
    );
    expect(() => parseEnv({ ...sso, SWITCHYARD_OIDC_ISSUER: 'http://id.example.com' })).toThrow(
      /must be https \(plain http is allowed only on localhost/,
    );
    expect(parseEnv({ ...sso, SWITCHYARD_OIDC_ISSUER: 'http://127.0.0.1:3211' }).SWITCHYARD_OIDC_ISSUER).toBe(
      'http://127.0.0.1:3211',
    );
  });

  it('refuses to switch password sign-in off without single sign-on', () => {
    expect(() => parseEnv({ SWITCHYARD_PASSWORD_LOGIN: 'off' })).toThrow(
      /SWITCHYARD_PASSWORD_LOGIN: off needs single sign-on/,
    );
    expect(() => parseEnv({ SWITCHYARD_PASSWORD_LOGIN: 'no' })).toThrow(/SWITCHYARD_PASSWORD_LOGIN/);
  });
});
