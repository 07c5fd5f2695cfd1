/**
 * Throwaway database servers for tests: PostgreSQL, MariaDB and Redis from
 * Debian's packages, each started on a free loopback port with its data in a
 * temporary directory, and stopped by pid afterwards. Tests never install
 * them: when a server is missing, `start*` returns `{ skip }` naming the
 * command that installs it, and the test skips loudly (`loudSkip`).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_COMMAND = 'bash scripts/install-system-deps.sh';

export interface DbServer {
  readonly kind: 'postgresql' | 'mariadb' | 'redis';
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The user to connect as (trust / no password). */
  readonly user: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export type Started = DbServer | { skip: string };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function missing(what: string, pkg: string): { skip: string } {
  return { skip: `${what} is not installed (Debian package ${pkg}); install it with: ${INSTALL_COMMAND}` };
}

/** The uid/gid a server must run as: servers refuse to run as root, so root runs them as their Debian user. */
function serverUser(name: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function tempDir(kind: string, owner: { uid: number; gid: number } | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), `reqprof-${kind}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Running implements DbServer {
  readonly host = '127.0.0.1' as const;
  #exited = false;
  readonly #onExit = () => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } };

  constructor(
    readonly kind: DbServer['kind'],
    readonly port: number,
    readonly user: string,
    readonly pid: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly output: string[],
  ) {
    child.once('exit', () => (this.#exited = true));
    // A test process that dies without cleanup leaves no server behind.
    process.once('exit', this.#onExit);
  }

  get exited(): boolean {
    return this.#exited;
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    if (!this.#exited) {
      const gone = new Promise((r) => this.child.once('exit', r));
      try { process.kill(this.pid, 'SIGTERM'); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function launch(cmd: string, args: string[], options: SpawnOptions, output: string[]): ChildProcess {
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b: Buffer) => { output.push(b.toString()); if (output.length > 200) output.shift(); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

async function waitReady(server: Running, ready: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exited) break;
    if (await ready()) return;
    await sleep(100);
  }
  await server.stop();
  throw new Error(`${what} did not become ready on port ${server.port}:\n${server.output.join('').slice(-3000)}`);
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

function pgBinary(name: string): string | undefined {
  if (existsSync(join(PG_BIN, name))) return join(PG_BIN, name);
  return which(name);
}

/** A PostgreSQL cluster (initdb, trust auth, user `postgres`, fsync off) on a free loopback port. */
export async function startPostgres(): Promise<Started> {
  const initdb = pgBinary('initdb');
  const postgres = pgBinary('postgres');
  const isReady = pgBinary('pg_isready');
  if (!initdb || !postgres || !isReady) return missing('PostgreSQL (initdb, postgres)', 'postgresql');
  const owner = serverUser('postgres');
  if (process.getuid?.() === 0 && !owner) return { skip: `running as root and no 'postgres' user to run PostgreSQL as; install it with: ${INSTALL_COMMAND}` };
  const dir = tempDir('postgresql', owner);
  const data = join(dir, 'data');
  const asOwner: SpawnOptions = owner ? { uid: owner.uid, gid: owner.gid, cwd: dir } : { cwd: dir };
  const init = spawnSync(initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { ...asOwner, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${init.stderr}`);
  }
  const port = await freePort();
  const output: string[] = [];
  const child = launch(postgres, ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=50'], asOwner, output);
  const server = new Running('postgresql', port, 'postgres', child.pid!, child, dir, output);
  await waitReady(server, async () => spawnSync(isReady, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { encoding: 'utf8' }).status === 0, 'PostgreSQL');
  return server;
}

/** A MariaDB server (fresh datadir, grant tables skipped: any user, no password) on a free loopback port. */
export async function startMariadb(): Promise<Started> {
  const installDb = which('mariadb-install-db') ?? which('mysql_install_db');
  const mariadbd = which('mariadbd') ?? (existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : undefined);
  if (!installDb || !mariadbd) return missing('MariaDB (mariadb-install-db, mariadbd)', 'mariadb-server');
  const owner = serverUser('mysql');
  const user = owner ? 'mysql' : (process.env.USER ?? 'root');
  const dir = tempDir('mariadb', owner);
  const data = join(dir, 'data');
  const init = spawnSync(installDb, ['--no-defaults', `--datadir=${data}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed:\n${init.stderr}\n${init.stdout}`);
  }
  const port = await freePort();
  const output: string[] = [];
  const child = launch(mariadbd, [
    '--no-defaults', `--datadir=${data}`, `--user=${user}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'mysqld.sock')}`, `--pid-file=${join(dir, 'mysqld.pid')}`, '--skip-grant-tables',
    '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--max-connections=50',
  ], {}, output);
  const server = new Running('mariadb', port, 'root', child.pid!, child, dir, output);
  await waitReady(server, () => canConnect(port), 'MariaDB');
  return server;
}

/** A Redis server without persistence (`--save ''`) on a free loopback port. */
export async function startRedis(): Promise<Started> {
  const redis = which('redis-server');
  if (!redis) return missing('Redis (redis-server)', 'redis-server');
  const dir = tempDir('redis', undefined);
  const port = await freePort();
  const output: string[] = [];
  const child = launch(redis, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {}, output);
  const server = new Running('redis', port, 'default', child.pid!, child, dir, output);
  await waitReady(server, () => canConnect(port), 'Redis');
  return server;
}

export interface RedisCluster {
  readonly host: '127.0.0.1';
  /** The client port of each master node. */
  readonly ports: number[];
  stop(): Promise<void>;
}

/** Waits for `cmd args` to exit; rejects with its output when it fails. */
function runTool(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const output: string[] = [];
    const child = launch(cmd, args, {}, output);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output.join('')) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${output.join('').slice(-2000)}`))));
  });
}

/**
 * A Redis Cluster of `masters` nodes (no replicas, no persistence), each on a
 * free loopback port with its cluster bus on another, created with
 * `redis-cli --cluster create` and ready when every node says `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster | { skip: string }> {
  const redis = which('redis-server');
  const cli = which('redis-cli');
  if (!redis || !cli) return missing('Redis (redis-server, redis-cli)', 'redis-server');
  const nodes: Running[] = [];
  const stop = async () => { for (const n of nodes) await n.stop(); };
  try {
    const taken = new Set<number>();
    const port = async () => { let p = await freePort(); while (taken.has(p)) p = await freePort(); taken.add(p); return p; };
    for (let i = 0; i < masters; i++) {
      const dir = tempDir('redis-cluster', undefined);
      const [client, bus] = [await port(), await port()];
      const output: string[] = [];
      const child = launch(redis, ['--port', String(client), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
        '--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-config-file', 'nodes.conf'], {}, output);
      const node = new Running('redis', client, 'default', child.pid!, child, dir, output);
      nodes.push(node);
      await waitReady(node, () => canConnect(client), 'Redis cluster node');
    }
    await runTool(cli, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const n of nodes) {
      await waitReady(n, async () => (await runTool(cli, ['-p', String(n.port), 'cluster', 'info'])).includes('cluster_state:ok'), 'Redis cluster');
    }
    return { host: '127.0.0.1', ports: nodes.map((n) => n.port), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
