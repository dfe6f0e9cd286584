import { defineConfig } from 'prisma/config';

// The URL is only needed by `prisma migrate deploy` / `prisma studio`; the app itself
// connects through server/db.ts (driver adapter) and migrates with server/db/migrate.ts.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/switchyard' },
});
