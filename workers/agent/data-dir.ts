import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ZEnrollResponse } from '../../lib/protocol/agent';

/**
 * What an agent keeps on disk between runs, in its data directory:
 * - credential.json: the node credential from enrollment (secret, mode 0600);
 * - state.json: the next telemetry seq, so numbering never goes backwards after a restart.
 */

export const CREDENTIAL_FILE = 'credential.json';
export const STATE_FILE = 'state.json';

export const ZStoredCredential = ZEnrollResponse.extend({
  serverUrl: z.string(),
  hostname: z.string(),
  enrolledAt: z.string(),
  /** When the credential was last rotated (`--rotate-credential`). */
  rotatedAt: z.string().optional(),
});
export type StoredCredential = z.infer<typeof ZStoredCredential>;

export const ZAgentState = z.object({ nextSeq: z.number().int().positive() });
export type AgentState = z.infer<typeof ZAgentState>;

export class DataDirError extends Error {
  override name = 'DataDirError';
}

export async function ensureDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
}

/** The stored credential; null when there is none. A damaged file is an error, not "none". */
export async function readCredential(dataDir: string): Promise<StoredCredential | null> {
  return readJson(join(dataDir, CREDENTIAL_FILE), ZStoredCredential);
}

export async function writeCredential(dataDir: string, credential: StoredCredential): Promise<void> {
  await writeJsonAtomically(join(dataDir, CREDENTIAL_FILE), credential, 0o600);
}

export async function deleteCredential(dataDir: string): Promise<void> {
  await rm(join(dataDir, CREDENTIAL_FILE), { force: true });
}

export async function readAgentState(dataDir: string): Promise<AgentState | null> {
  return readJson(join(dataDir, STATE_FILE), ZAgentState);
}

export async function writeAgentState(dataDir: string, state: AgentState): Promise<void> {
  await writeJsonAtomically(join(dataDir, STATE_FILE), state, 0o600);
}

async function readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DataDirError(`${path} is not valid JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataDirError(`${path}: ${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Write-then-rename, so a crash mid-write leaves the old file rather than half a file. */
async function writeJsonAtomically(path: string, value: unknown, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode });
  await rename(temporary, path);
}
