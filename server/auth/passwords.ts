import { hash, verify } from '@node-rs/argon2';

// argon2id with the library's defaults (19 MiB, 2 passes): OWASP's recommended minimum.
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** Spent on unknown usernames too, so a login's timing does not reveal which users exist. */
const DUMMY_HASH = hash('switchyard-timing-equaliser');
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(await DUMMY_HASH, password);
}

// The rule is shared with the console, which states it beside every password field.
export {
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_RULE,
  passwordProblem,
} from '../../lib/password-rule';
