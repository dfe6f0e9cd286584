// The end-to-end suite drives Debian's Chromium (Playwright cannot download browsers here).
// Finds it at CHROMIUM_PATH or /usr/bin/chromium; as root on Debian it installs the
// `chromium` package itself and says so; elsewhere it stops and says how to install it.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const candidate = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (fs.existsSync(candidate)) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = fs.existsSync('/etc/debian_version') && fs.existsSync('/usr/bin/apt-get');
if (process.env.CHROMIUM_PATH) {
  console.error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist.`);
  process.exit(1);
}
if (!isRoot || !isDebian) {
  console.error(
    'Chromium was not found at /usr/bin/chromium. Install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) ' +
      'or set CHROMIUM_PATH to a Chromium or Chrome binary, then run the tests again.',
  );
  process.exit(1);
}
console.log("Chromium is missing: installing Debian's `chromium` package (apt-get install -y chromium)…");
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
  stdio: 'inherit',
  env,
});
if (install.status !== 0 || !fs.existsSync('/usr/bin/chromium')) {
  console.error('Installing chromium failed; install it by hand and run the tests again.');
  process.exit(1);
}
console.log('Installed /usr/bin/chromium.');
