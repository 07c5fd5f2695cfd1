/**
 * Debian tools that tests drive for real (`go tool pprof`, Chromium): found on
 * PATH, or installed with apt-get when absent. A test skips only when the tool
 * truly cannot be installed, and says so loudly.
 */
import { spawnSync } from 'node:child_process';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The command's path, after `apt-get install <pkg>` if needed; `{ skip }` with the reason when impossible. */
export function ensureDebianTool(cmd: string, pkg: string): { path: string } | { skip: string } {
  const found = which(cmd);
  if (found) return { path: found };
  if (!which('apt-get')) return { skip: `${cmd} is not installed and this system has no apt-get to install ${pkg}` };
  const sudo = process.getuid?.() === 0 ? [] : which('sudo') ? ['sudo', '-n'] : undefined;
  if (sudo === undefined) return { skip: `${cmd} is not installed and the tests are neither root nor have sudo to apt-get install ${pkg}` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const log: string[] = [];
  // Another installer may hold the dpkg lock (CI installs several packages): wait for it.
  for (const args of [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', pkg]]) {
    const full = [...sudo, ...args];
    const r = spawnSync(full[0]!, full.slice(1), { env, encoding: 'utf8', timeout: 900_000 });
    log.push(`$ ${full.join(' ')} -> ${r.status}\n${(r.stderr ?? '').slice(-2000)}`);
  }
  const installed = which(cmd);
  if (installed) return { path: installed };
  return { skip: `${cmd} could not be installed with apt-get install ${pkg}:\n${log.join('\n')}` };
}

/** Prints a skip reason so that nobody mistakes a skip for a pass. */
export function loudSkip(what: string, reason: string): string {
  const bar = '!'.repeat(78);
  console.error(`\n${bar}\n!!! SKIPPED: ${what} did not run.\n!!! ${reason.split('\n').join('\n!!! ')}\n${bar}\n`);
  return reason;
}
