import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from './backoff';
import { CREDENTIAL_FILE, readCredential, type StoredCredential, writeCredential } from './data-dir';
import { EnrollmentRefusedError, rotateCredential } from './enrollment';
import { errorMessage } from './log';

const WRITE_ATTEMPTS = 3;

/**
 * Replaces the node credential in `dataDir` with a new one from the server (the running
 * agent's own credential pays for it; docs/agent-protocol.md §1). The server revokes the old
 * credential at once and closes its connections; an agent running on this data directory
 * finds the new credential in credential.json and reconnects with it.
 *
 * The new credential is written atomically (write, then rename) before the old one is
 * dropped. Should that write fail even so, the error carries the new credential: it is the
 * only copy, and without it the node needs a replacement token from an admin.
 */
export async function rotateStoredCredential(options: {
  dataDir: string;
  /** Default: the server the stored credential came from. */
  serverUrl?: string;
}): Promise<{ credential: StoredCredential; path: string }> {
  const path = join(options.dataDir, CREDENTIAL_FILE);
  const stored = await readCredential(options.dataDir);
  if (!stored) throw new Error(`no node credential in ${path} to rotate; enroll first`);
  // Fail before the server revokes anything if the new credential could not be kept.
  try {
    await access(options.dataDir, constants.W_OK);
  } catch (error) {
    throw new Error(`cannot write to ${options.dataDir}: ${errorMessage(error)}`);
  }
  const serverUrl = (options.serverUrl ?? stored.serverUrl).replace(/\/+$/, '');
  let rotated: Awaited<ReturnType<typeof rotateCredential>>;
  try {
    rotated = await rotateCredential(serverUrl, stored.nodeCredential);
  } catch (error) {
    if (error instanceof EnrollmentRefusedError) {
      const field = error.field ? ` (field: ${error.field})` : '';
      throw new Error(`${serverUrl} refused to rotate the credential in ${path}: ${error.message}${field}`);
    }
    throw error;
  }
  const credential: StoredCredential = {
    ...stored,
    ...rotated,
    serverUrl,
    rotatedAt: new Date().toISOString(),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await writeCredential(options.dataDir, credential);
      return { credential, path };
    } catch (error) {
      if (attempt < WRITE_ATTEMPTS) {
        await sleep(200 * attempt);
        continue;
      }
      throw new Error(
        `the server issued a new credential for node ${rotated.nodeId} and revoked the old one, but ${path} ` +
          `cannot be written (${errorMessage(error)}). Keep this new credential, the only copy, as ` +
          `"nodeCredential" in that file: ${rotated.nodeCredential}`,
      );
    }
  }
}
