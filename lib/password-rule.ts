/** What a password anyone sets must be: one rule for the server and the console. */

/** The stated rule, as the console and the README say it. */
export const PASSWORD_RULE =
  'at least 12 characters, not one character repeated, not the username, not a common password';
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

// Long enough to pass the length rule, yet among the first guesses of any attacker.
const COMMON_PASSWORDS = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123456789abc',
  '1234567890ab',
  '1q2w3e4r5t6y',
  'abc123456789',
  'abcdefghijkl',
  'abcd1234abcd1234',
  'administrator',
  'administrator1',
  'changeme1234',
  'correcthorsebatterystaple',
  'iloveyou1234',
  'letmein12345',
  'password1234',
  'password12345',
  'password123!',
  'passwordpassword',
  'qwerty123456',
  'qwertyuiop12',
  'qwertyuiopasdf',
  'switchyard123',
  'switchyard1234',
  'welcome12345',
]);

/**
 * Why a new password is refused, or null when it is acceptable (PASSWORD_RULE). The message
 * completes "<field>: …" so the caller can name the field it came from.
 */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters`;
  if (new Set(password).size === 1) return 'Use more than one character repeated';
  const lower = password.toLowerCase();
  if (lower === username.trim().toLowerCase()) return 'Do not use the username as the password';
  if (COMMON_PASSWORDS.has(lower)) return 'This password is too common; choose another';
  return null;
}
