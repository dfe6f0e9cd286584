import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client';
import { logger } from '../log';
import { hashPassword } from './passwords';

const log = logger('auth');

/**
 * The first admin: `admin` with SWITCHYARD_ADMIN_PASSWORD, or a generated password
 * printed once. Later starts leave an existing admin alone.
 */
export async function ensureFirstAdmin(db: Db, configuredPassword: string | undefined): Promise<void> {
  if ((await db.user.count()) > 0) return;
  const password = configuredPassword ?? randomBytes(12).toString('base64url');
  await db.user.create({
    data: { username: 'admin', role: 'admin', passwordHash: await hashPassword(password) },
  });
  if (configuredPassword) {
    log.info('created user "admin" with the password from SWITCHYARD_ADMIN_PASSWORD');
  } else {
    const banner = '='.repeat(64);
    process.stdout.write(
      `\n${banner}\n  First start: created user "admin" with password: ${password}\n  (shown once; set SWITCHYARD_ADMIN_PASSWORD to choose it)\n${banner}\n\n`,
    );
  }
}
