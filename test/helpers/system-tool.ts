/**
 * System tools that tests drive for real (`go tool pprof`, Chromium, Prometheus,
 * database servers). Tests only look for them: installing is the job of
 * `scripts/install-system-deps.sh` (run by `.ci/run`), never of `npm test`.
 * A test whose tool is missing skips loudly and names that script.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The command that installs every system package the suite uses. */
export const INSTALL_SYSTEM_DEPS = 'bash scripts/install-system-deps.sh';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v "$0"', cmd], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

/**
 * `/usr/lib/postgresql/<version>/bin` folders, newest version first: Debian's
 * postgresql keeps initdb, pg_ctl and postgres there, off PATH.
 */
export function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin')))
    .sort((a, b) => Number(b) - Number(a) || b.localeCompare(a))
    .map((v) => join(root, v, 'bin'));
}

/**
 * The path of `cmd` (Debian package `pkg`), looked up on PATH, then in `dirs`
 * and the sbin folders; `{ skip }` with a reason naming the install command
 * when it is absent. Never installs anything.
 */
export function findSystemTool(cmd: string, pkg: string, dirs: readonly string[] = []): { path: string } | { skip: string } {
  const found = which(cmd) ?? [...dirs, '/usr/sbin', '/sbin', '/usr/local/sbin'].map((d) => join(d, cmd)).find((p) => existsSync(p));
  if (found) return { path: found };
  return { skip: `${cmd} is not installed (Debian package ${pkg}). Install the suite's system packages with: ${INSTALL_SYSTEM_DEPS}` };
}

/** Kept for existing callers: the same as `findSystemTool` (it no longer installs). */
export const ensureDebianTool = findSystemTool;

/** Prints a skip reason so that nobody mistakes a skip for a pass. */
export function loudSkip(what: string, reason: string): string {
  const bar = '!'.repeat(78);
  console.error(`\n${bar}\n!!! SKIPPED: ${what} did not run.\n!!! ${reason.split('\n').join('\n!!! ')}\n${bar}\n`);
  return reason;
}
