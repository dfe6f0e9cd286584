// What a fresh checkout lacks before a server can start: the Prisma client and the built
// Next.js pages. `npm start` and `npm run cluster` both call this once, before any server
// starts, so servers never race to build the same files.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env, cwd: ROOT });
  if (result.status !== 0) {
    console.error(`\n${command} ${args.join(' ')} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
}

/** The pages are rebuilt when anything they are built from has changed. */
function pagesInputHash() {
  const hash = createHash('sha256');
  const visit = (entry) => {
    if (!fs.existsSync(entry)) return;
    const stat = fs.statSync(entry);
    if (stat.isDirectory()) {
      for (const child of fs.readdirSync(entry).sort()) visit(path.join(entry, child));
    } else {
      hash.update(entry);
      hash.update(fs.readFileSync(entry));
    }
  };
  for (const entry of ['app', 'components', 'lib', 'next.config.js', 'tsconfig.json', 'package-lock.json'])
    visit(entry);
  return hash.digest('hex');
}

/**
 * Builds what is missing or out of date, in the repository root (the working directory is
 * changed to it). Exits the process when a build fails.
 */
export function prepareProduct({ dev = process.env.NODE_ENV === 'development' } = {}) {
  process.chdir(ROOT);
  if (!fs.existsSync('node_modules')) {
    console.error('Dependencies are missing: run `npm ci` first.');
    process.exit(1);
  }
  if (!fs.existsSync('server/generated/prisma/client.ts')) {
    run(process.execPath, ['scripts/prisma-generate.mjs']);
  }
  if (dev) return;
  const stamp = path.join('.next', 'switchyard-inputs.sha256');
  const wanted = pagesInputHash();
  const built =
    fs.existsSync(path.join('.next', 'BUILD_ID')) &&
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8') === wanted;
  if (!built) {
    console.log('Building the web pages (first start, or they changed)…');
    run(process.execPath, ['node_modules/next/dist/bin/next', 'build'], {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
    });
    fs.writeFileSync(stamp, wanted);
  }
}
