import {
  closeSync,
  fsync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ZTelemetryFrame } from '../../lib/protocol/agent';

export const FRAMES_FILE = 'frames.jsonl';

/**
 * One line of the journal. A frame is appended when it is built; the rest record what
 * happened to frames since, so that replaying the lines in order rebuilds the buffer.
 */
export const ZJournalRecord = z.union([
  z.object({ frame: ZTelemetryFrame }),
  z.object({ acked: z.array(z.number().int().positive()) }),
  z.object({ discardThrough: z.number().int().nonnegative() }),
  /** The highest seq ever buffered, so numbering survives a journal that holds no frame. */
  z.object({ highWater: z.number().int().nonnegative() }),
]);
export type JournalRecord = z.infer<typeof ZJournalRecord>;

export type LoadedJournal = { records: JournalRecord[]; unreadable: number };

/**
 * The unacknowledged frames on disk: an append-only JSON-lines file in the agent's data
 * directory, rewritten whole (compacted) from time to time.
 *
 * Durability: every record is handed to the kernel with one synchronous write(2) before the
 * frame goes out on the socket, so a killed agent (SIGKILL, OOM, a crash) loses at most the
 * frame whose write it was killed in; such a torn last line is skipped on load. fsync runs
 * in the background at most once per `fsyncIntervalMs` (and on every rewrite and on close),
 * so a power cut or kernel crash can lose the last interval's writes, without paying a
 * synchronous disk flush per frame. Rewrites go through a temporary file, fsync and rename,
 * so a crash mid-compaction leaves either the old journal or the new one.
 */
export class FrameJournal {
  private fd: number | null = null;
  private dirty = false;
  private syncing = false;
  private syncTimer: NodeJS.Timeout | null = null;
  /** Descriptors replaced by a rewrite while a background fsync still used them. */
  private readonly closeAfterSync = new Set<number>();
  /** Lines appended since the last rewrite: what compaction would save. */
  appendedSinceRewrite = 0;

  constructor(
    readonly path: string,
    private readonly fsyncIntervalMs = 1000,
  ) {}

  /** Reads every record; unreadable lines (a torn last write, damage) are counted and skipped. */
  load(): LoadedJournal {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], unreadable: 0 };
      throw error;
    }
    const records: JournalRecord[] = [];
    let unreadable = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        unreadable++;
        continue;
      }
      const parsed = ZJournalRecord.safeParse(json);
      if (parsed.success) records.push(parsed.data);
      else unreadable++;
    }
    return { records, unreadable };
  }

  append(records: JournalRecord[]): void {
    if (records.length === 0) return;
    const text = records.map((record) => `${JSON.stringify(record)}\n`).join('');
    this.fd ??= openSync(this.path, 'a', 0o600);
    writeSync(this.fd, text);
    this.appendedSinceRewrite += records.length;
    this.dirty = true;
    this.scheduleSync();
  }

  /** Replaces the whole journal with `records`, atomically. */
  rewrite(records: JournalRecord[]): void {
    const temporary = `${this.path}.${process.pid}.tmp`;
    const text = records.map((record) => `${JSON.stringify(record)}\n`).join('');
    try {
      const fd = openSync(temporary, 'w', 0o600);
      try {
        writeFileSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.closeFd();
      renameSync(temporary, this.path);
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
    syncDirectory(dirname(this.path));
    this.appendedSinceRewrite = 0;
    this.dirty = false;
  }

  /** Flushes to disk now (used on close). */
  syncNow(): void {
    if (this.fd !== null && this.dirty) {
      fsyncSync(this.fd);
      this.dirty = false;
    }
  }

  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    try {
      this.syncNow();
    } finally {
      this.closeFd();
    }
  }

  private closeFd(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    // A background fsync may still hold the old descriptor; it closes it when done.
    if (!this.syncing) closeSync(fd);
    else this.closeAfterSync.add(fd);
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.fsyncIntervalMs <= 0) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      const fd = this.fd;
      if (fd === null || !this.dirty || this.syncing) return;
      this.dirty = false;
      this.syncing = true;
      fsync(fd, () => {
        this.syncing = false;
        for (const stale of this.closeAfterSync) closeSync(stale);
        this.closeAfterSync.clear();
        if (this.dirty) this.scheduleSync();
      });
    }, this.fsyncIntervalMs);
    // The journal must not keep a stopping process alive.
    this.syncTimer.unref();
  }
}

/** Makes a rename durable: the directory entry is only on disk once the directory is synced. */
function syncDirectory(directory: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can open or sync a directory; the rename itself has happened.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
