// The server as an operator runs it: a real command (`npm start`) in its own process group, so a test
// can signal the one process it started, as a process manager does, and then see whether anything of
// the tree that command made is still running.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** Resolves with how a TCP connection to host:port ended: 'connected' or the error code (ECONNREFUSED). */
export { tryConnect } from '../../src/cluster/localNats.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  readonly process: ChildProcessWithoutNullStreams;
  /** The pid of the process started, which leads its own process group. */
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** The base URL (`http://HOST:PORT`) from the line `evledger serving http://HOST:PORT/graphql …`. */
  readonly url: Promise<string>;
  /** SIGKILLs whatever is left of the process group (for cleanup after a failed test). */
  killGroup(): void;
}

/** The variables a user's shell would not have set but the test runner's has (vitest sets NODE_ENV=test). */
const RUNNER_ONLY = ['NODE_ENV', 'VITEST', 'VITEST_MODE', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'HOST', 'PORT', 'DATA_DIR', 'INSECURE'];

const SERVING = /^evledger serving (http:\/\/[^\s/]+)\/graphql/m;

/**
 * Starts `command args` in REPO with `env` over this process's environment (minus what only the test
 * runner sets), detached into a process group of its own: its pid is also the group's id.
 */
export function startServerProcess(command: string, args: string[], env: Record<string, string>): ServerProcess {
  const base = { ...process.env };
  for (const name of RUNNER_ONLY) delete base[name];
  const child = spawn(command, args, {
    cwd: REPO,
    env: { ...base, npm_config_update_notifier: 'false', npm_config_fund: 'false', ...env },
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const match = SERVING.exec(stdout);
      if (match) resolve(match[1]!);
    });
    exited.then((e) => reject(new Error(`${command} ${args.join(' ')} exited (${JSON.stringify(e)}) before serving:\n${stdout}\n${stderr}`)));
  });
  url.catch(() => {}); // a caller that never asks for the URL must not see an unhandled rejection
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return {
    process: child,
    pid,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    url,
    killGroup: () => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // nothing left to kill
      }
    },
  };
}

/**
 * The processes of group `pgid` still running (zombies, which hold no port, lock or file, do not
 * count), as `ps` lines. Where PID 1 does not reap orphans (some sandboxes and containers), tsx's
 * esbuild helper, which exits when node does, stays in the group as a zombie.
 */
export function liveInGroup(pgid: number): string[] {
  try {
    const lines = execFileSync('ps', ['-o', 'pid=,stat=,args=', '-g', String(pgid)], { encoding: 'utf8' }).split('\n');
    return lines.filter((line) => line.trim() && !/^\s*\d+\s+Z/.test(line));
  } catch {
    return []; // ps exits 1 when the group is empty
  }
}

/**
 * Waits until nothing of group `pgid` runs, up to `timeoutMs`, and returns what is left then. A helper
 * that exits on its own once its parent is gone (esbuild, on end of stdin) may take a moment.
 */
export async function settledGroup(pgid: number, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = liveInGroup(pgid);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * What the tests of the calling file start and make: after each test, every server started is killed
 * (its whole group) and waited for, then every removal runs.
 */
export function cleanedAfterEach(): { started: ServerProcess[]; removals: (() => Promise<void>)[] } {
  const started: ServerProcess[] = [];
  const removals: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) {
      s.killGroup();
      await s.exited;
    }
    for (const remove of removals.splice(0)) await remove();
  });
  return { started, removals };
}
