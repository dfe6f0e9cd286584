import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;

/** One Prisma client per database URL, kept on globalThis so hot reload does not multiply pools. */
const globalForDb = globalThis as unknown as { switchyardDb?: Map<string, PrismaClient> };

export function getDb(databaseUrl: string): PrismaClient {
  globalForDb.switchyardDb ??= new Map();
  let db = globalForDb.switchyardDb.get(databaseUrl);
  if (!db) {
    db = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 20 }) });
    globalForDb.switchyardDb.set(databaseUrl, db);
  }
  return db;
}

export async function closeDb(databaseUrl: string): Promise<void> {
  const db = globalForDb.switchyardDb?.get(databaseUrl);
  if (!db) return;
  globalForDb.switchyardDb?.delete(databaseUrl);
  await db.$disconnect();
}
