/**
 * A fresh key for one attempt at a change. The server answers a repeated key with the
 * first attempt's change, so pressing Apply again after a lost reply cannot apply twice.
 * `crypto.randomUUID` exists only in secure contexts (HTTPS, localhost); a console served
 * over plain HTTP on a LAN address falls back to the same amount of randomness.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
