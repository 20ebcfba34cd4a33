// strace attached to this very test process: counts the fsyncs that really reach the kernel, or makes
// the next fdatasync fail with EIO, as a disk would (a real syscall failure seen by RocksDB, not a
// hook of ours). Needs strace (`.ci/run` installs it) and the right to trace this process (root).
import { spawn, type ChildProcess } from 'node:child_process';

export interface Tracer {
  /** Detaches and tells what was seen while attached. */
  stop(): Promise<{ fdatasync: number; fsync: number; injected: number }>;
}

/** Attaches strace to every thread of this process; resolves once it is attached. */
async function attach(extra: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('strace', ['-f', '-p', String(process.pid), '-e', 'trace=fdatasync,fsync', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`strace exited (${code}): ${output}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk;
      // One "attached" line per thread; the last comes right after the first ones.
      if (/attached/.test(output)) setTimeout(resolve, 100);
    });
  });
  child.removeAllListeners('exit');
  return { child, output: () => output };
}

function tracer(child: ChildProcess, output: () => string): Tracer {
  return {
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT'); // detaches from every thread, leaving the process as it was
      await exited;
      const calls = (name: string) => output().split('\n').filter((line) => new RegExp(`\\b${name}\\(`).test(line) && !/resumed>/.test(line)).length;
      return { fdatasync: calls('fdatasync'), fsync: calls('fsync'), injected: (output().match(/\(INJECTED\)/g) ?? []).length };
    },
  };
}

/** Counts fdatasync and fsync calls of this process until stop(). */
export async function traceSyncs(): Promise<Tracer> {
  const { child, output } = await attach([]);
  return tracer(child, output);
}

/** Makes the next fdatasync of this process (whichever thread calls it) fail with EIO; the rest succeed. */
export async function failNextDatasync(): Promise<Tracer> {
  const { child, output } = await attach(['-e', 'inject=fdatasync:error=EIO:when=1']);
  return tracer(child, output);
}
