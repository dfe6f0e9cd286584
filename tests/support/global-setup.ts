import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../server/db/embedded-postgres';
import { migrate } from '../../server/db/migrate';

export const TEMPLATE_DATABASE = 'switchyard_test_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL on the test server's maintenance database; test files clone the template from it. */
    adminDatabaseUrl: string;
  }
}

/**
 * Starts one Postgres for the whole run (the embedded one, or the server at DATABASE_URL)
 * and migrates a template database that every test file clones.
 */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedDatabase | null = null;
  let adminUrl: string;
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    if (!['localhost', '127.0.0.1', '::1'].includes(url.hostname)) {
      throw new Error(`Refusing to run tests against a non-local database (${url.hostname})`);
    }
    url.pathname = '/postgres';
    adminUrl = url.toString();
  } else {
    // One data directory per port, so test runs on different ports never share a cluster.
    const port = Number(process.env.SWITCHYARD_TEST_PG_PORT ?? 54339);
    const dataDir = path.resolve(port === 54339 ? '.switchyard-test' : `.switchyard-test-${port}`);
    embedded = await startEmbeddedPostgres(dataDir, port);
    const url = new URL(embedded.url);
    url.pathname = '/postgres';
    adminUrl = url.toString();
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  await migrate(templateUrl.toString());

  project.provide('adminDatabaseUrl', adminUrl);
  return async () => {
    await embedded?.stop();
  };
}
