import fs from 'node:fs';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../server/db/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The migrated database must be exactly what prisma/schema.prisma describes: the same
 * tables, columns (type, nullability, database default), enums, primary keys, unique and
 * plain indexes, and foreign keys with their ON DELETE rule. The expectation is derived
 * from Prisma's own parse of the schema (DMMF), so editing one without the other fails here.
 */

type DmmfField = {
  name: string;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: { name?: string } | unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
};
type Dmmf = {
  datamodel: {
    models: { name: string; fields: DmmfField[] }[];
    enums: { name: string; values: { name: string }[] }[];
    indexes: { model: string; type: 'id' | 'unique' | 'normal'; fields: { name: string }[] }[];
  };
};

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Boolean: 'boolean',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};
/** Defaults Prisma Client fills in itself; they have no database default. */
const CLIENT_SIDE_DEFAULTS = new Set(['uuid', 'cuid', 'nanoid', 'ulid']);
const ON_DELETE: Record<string, string> = {
  Cascade: 'c',
  Restrict: 'r',
  SetNull: 'n',
  NoAction: 'a',
  SetDefault: 'd',
};

const dmmf = JSON.parse(
  get_dmmf(JSON.stringify({ prismaSchema: fs.readFileSync('prisma/schema.prisma', 'utf8') })),
) as Dmmf;

function expectedSchema() {
  const { models, enums, indexes } = dmmf.datamodel;
  const columns: string[] = [];
  const foreignKeys: string[] = [];
  for (const model of models) {
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields?.length) {
          const rule = field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull');
          foreignKeys.push(
            `${model.name}(${field.relationFromFields.join(',')}) -> ${field.type}(${field.relationToFields!.join(',')}) on delete ${ON_DELETE[rule]}`,
          );
        }
        continue;
      }
      const base = field.kind === 'enum' ? `"${field.type}"` : SCALAR_TYPES[field.type];
      const type = field.isList ? `${base}[]` : base;
      const defaultName = (field.default as { name?: string } | undefined)?.name;
      const dbDefault = field.hasDefaultValue && !CLIENT_SIDE_DEFAULTS.has(defaultName ?? '');
      // Prisma makes list columns nullable in SQL even when required in the schema.
      const nullable = !field.isRequired || field.isList;
      columns.push(
        `${model.name}.${field.name} ${type} ${nullable ? 'null' : 'not null'}${dbDefault ? ' default' : ''}`,
      );
    }
  }
  const indexList = indexes.map(
    (i) => `${i.model} ${i.type === 'id' ? 'primary' : i.type}(${i.fields.map((f) => f.name).join(',')})`,
  );
  const enumList = enums.map((e) => `${e.name}: ${e.values.map((v) => v.name).join(',')}`);
  return {
    columns: columns.sort(),
    foreignKeys: foreignKeys.sort(),
    indexes: indexList.sort(),
    enums: enumList.sort(),
  };
}

async function actualSchema(client: pg.Client) {
  const columns = await client.query<{ line: string }>(`
    SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END
           || CASE WHEN a.atthasdef THEN ' default' ELSE '' END AS line
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      AND c.relname <> '_prisma_migrations'`);
  const foreignKeys = await client.query<{ line: string }>(`
    SELECT src.relname || '(' || string_agg(sa.attname, ',' ORDER BY k.ord) || ') -> ' || dst.relname || '('
           || string_agg(da.attname, ',' ORDER BY k.ord) || ') on delete ' || con.confdeltype::text AS line
    FROM pg_constraint con
    JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(src_att, dst_att, ord)
    JOIN pg_attribute sa ON sa.attrelid = con.conrelid AND sa.attnum = k.src_att
    JOIN pg_attribute da ON da.attrelid = con.confrelid AND da.attnum = k.dst_att
    WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
    GROUP BY con.oid, src.relname, dst.relname, con.confdeltype`);
  const indexes = await client.query<{ line: string }>(`
    SELECT t.relname || ' ' || CASE WHEN ix.indisprimary THEN 'primary' WHEN ix.indisunique THEN 'unique' ELSE 'normal' END
           || '(' || string_agg(a.attname, ',' ORDER BY k.ord) || ')' AS line
    FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(att, ord)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.att
    WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
    GROUP BY ix.indexrelid, t.relname, ix.indisprimary, ix.indisunique`);
  const enums = await client.query<{ line: string }>(`
    SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS line
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`);
  const lines = (r: pg.QueryResult<{ line: string }>) => r.rows.map((row) => row.line).sort();
  return {
    columns: lines(columns),
    foreignKeys: lines(foreignKeys),
    indexes: lines(indexes),
    enums: lines(enums),
  };
}

describe('migrations', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await database.drop();
  });

  it('produce a database with no drift from schema.prisma', async () => {
    const expected = expectedSchema();
    const actual = await actualSchema(client);
    expect(actual.enums).toEqual(expected.enums);
    expect(actual.columns).toEqual(expected.columns);
    expect(actual.indexes).toEqual(expected.indexes);
    expect(actual.foreignKeys).toEqual(expected.foreignKeys);
  });

  it('are recorded in _prisma_migrations as Prisma Migrate records them, and re-running applies nothing', async () => {
    const rows = await client.query(
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations"',
    );
    const dirs = fs.readdirSync('prisma/migrations', { withFileTypes: true }).filter((d) => d.isDirectory());
    expect(rows.rows.map((r) => r.migration_name).sort()).toEqual(dirs.map((d) => d.name).sort());
    for (const row of rows.rows) {
      expect(row.finished_at).not.toBeNull();
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(await migrate(database.url)).toEqual([]);
  });

  it('keep the rules the schema language cannot state: one owner per GPU, exactly one kind of owner', async () => {
    const { db } = database;
    const cluster = await db.cluster.create({ data: { name: 'c' } });
    const node = await db.node.create({ data: { clusterId: cluster.id, hostname: 'n1' } });
    const gpu = await db.gpu.create({
      data: { nodeId: node.id, index: 0, uuid: 'GPU-x', modelName: 'm', memoryTotalMiB: 1 },
    });
    const model = await db.model.create({ data: { name: 'm', family: 'f', parametersB: 1 } });
    const a = await db.deployment.create({
      data: { name: 'a', modelId: model.id, sloP95Ms: 100, maxGpus: 4 },
    });
    const b = await db.deployment.create({
      data: { name: 'b', modelId: model.id, sloP95Ms: 100, maxGpus: 4 },
    });
    const job = await db.job.create({ data: { name: 'j', kind: 'training' } });

    await db.allocation.create({ data: { gpuId: gpu.id, deploymentId: a.id, reason: 'test' } });
    await expect(
      db.allocation.create({ data: { gpuId: gpu.id, deploymentId: b.id, reason: 'test' } }),
    ).rejects.toThrow();
    await db.allocation.deleteMany({ where: { gpuId: gpu.id } });
    await expect(
      db.allocation.create({ data: { gpuId: gpu.id, deploymentId: a.id, jobId: job.id, reason: 'both' } }),
    ).rejects.toThrow(/Allocation_one_owner_check|check constraint/i);
    await expect(db.allocation.create({ data: { gpuId: gpu.id, reason: 'neither' } })).rejects.toThrow();
    await expect(
      db.deployment.create({ data: { name: 'bad', modelId: model.id, sloP95Ms: 1, minGpus: 5, maxGpus: 4 } }),
    ).rejects.toThrow();
  });
});
