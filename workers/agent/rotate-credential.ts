import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from './backoff';
import { CREDENTIAL_FILE, readCredential, type StoredCredential, writeCredential } from './data-dir';
import { EnrollmentRefusedError, neverReachedServer, rotateCredential } from './enrollment';
import { errorMessage } from './log';
import { ServerList } from './server-list';

const WRITE_ATTEMPTS = 3;

/**
 * Replaces the node credential in `dataDir` with a new one from the server (the running
 * agent's own credential pays for it; docs/agent-protocol.md §1). The server revokes the old
 * credential at once and closes its connections; an agent running on this data directory
 * finds the new credential in credential.json and reconnects with it.
 *
 * With several servers (`--server a,b`, or the list the credential was enrolled with), they
 * are tried in order, but the next one only when the previous could not be reached at all:
 * a request that reached a server may have rotated the credential there, and sending the
 * old one again would only be refused.
 *
 * The new credential is written atomically (write, then rename) before the old one is
 * dropped. Should that write fail even so, the error carries the new credential: it is the
 * only copy, and without it the node needs a replacement token from an admin.
 */
export async function rotateStoredCredential(options: {
  dataDir: string;
  /** Default: the server(s) the stored credential came from. One URL, a comma-separated list, or an array. */
  serverUrl?: string | readonly string[];
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
  const servers = new ServerList(options.serverUrl ?? stored.serverUrl);
  const unreachable: string[] = [];
  let rotated: Awaited<ReturnType<typeof rotateCredential>> | undefined;
  for (const serverUrl of servers.urls) {
    try {
      rotated = await rotateCredential(serverUrl, stored.nodeCredential);
      break;
    } catch (error) {
      if (error instanceof EnrollmentRefusedError) {
        const field = error.field ? ` (field: ${error.field})` : '';
        throw new Error(`${serverUrl} refused to rotate the credential in ${path}: ${error.message}${field}`);
      }
      if (!neverReachedServer(error)) throw error;
      unreachable.push(`${serverUrl} (${errorMessage((error as Error).cause ?? error)})`);
    }
  }
  if (!rotated)
    throw new Error(`cannot rotate the credential in ${path}: no server answered: ${unreachable.join(', ')}`);
  const credential: StoredCredential = {
    ...stored,
    ...rotated,
    serverUrl: servers.toString(),
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
