// A disk that really fills up, for the store's disk-full tests: the OS refuses the write, no hook of ours.
//  - tmpfs: a small tmpfs mounted on a temp dir, filled by a ballast file (ENOSPC). Needs root, as in CI.
//  - RLIMIT_FSIZE: this test process's file size limit lowered to 0 with prlimit, so every write that
//    would grow a file fails with EFBIG (SIGXFSZ is ignored meanwhile, or it would kill the process).
//    Needs no root, so a developer machine runs the disk-full tests too. It fills every disk at once
//    for this process: nothing here may write a file (or log to one) while it is full.
import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tempStore.ts';

const run = promisify(execFile);

export type DiskKind = 'tmpfs' | 'RLIMIT_FSIZE';

export interface FullDisk {
  readonly kind: DiskKind;
  /** Where the store goes. */
  readonly dataDir: string;
  /** Takes all the room there is. */
  fill(): Promise<void>;
  /** Gives it back. */
  free(): Promise<void>;
  /** Frees, unmounts and deletes everything; safe to call after a failure, and twice. */
  dispose(): Promise<void>;
}

const TMPFS_SIZE = '16m'; // enough for RocksDB to open (it preallocates nothing it cannot get) and a few MB of log

/** The kinds of full disk this machine can make: tmpfs only where mount is permitted. */
export async function availableDisks(): Promise<DiskKind[]> {
  const probe = await tempDir('evledger-mount-probe-');
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe.dir]);
    await run('umount', [probe.dir]);
    return ['tmpfs', 'RLIMIT_FSIZE'];
  } catch {
    return ['RLIMIT_FSIZE'];
  } finally {
    await probe.remove();
  }
}

export function makeDisk(kind: DiskKind): Promise<FullDisk> {
  return kind === 'tmpfs' ? tmpfsDisk() : rlimitDisk();
}

async function tmpfsDisk(): Promise<FullDisk> {
  const { dir, remove } = await tempDir('evledger-tmpfs-');
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', dir]);
  const ballast = join(dir, 'ballast');
  let mounted = true;
  return {
    kind: 'tmpfs',
    dataDir: join(dir, 'store'),
    async fill() {
      const file = await open(ballast, 'a');
      try {
        // Big writes first, then ever smaller ones, until not one more byte fits.
        for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
          const chunk = Buffer.alloc(size, 0xba);
          for (;;) {
            try {
              if ((await file.write(chunk)).bytesWritten < size) break;
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
              break;
            }
          }
        }
      } finally {
        await file.close();
      }
    },
    async free() {
      await rm(ballast, { force: true });
    },
    async dispose() {
      if (mounted) {
        await rm(ballast, { force: true }).catch(() => {});
        // A lazy unmount if something still holds a file there: never leave a mount behind.
        await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
        mounted = false;
      }
      await remove();
    },
  };
}

async function rlimitDisk(): Promise<FullDisk> {
  const { dir, remove } = await tempDir('evledger-rlimit-');
  const pid = String(process.pid);
  const { stdout } = await run('prlimit', ['--pid', pid, '--fsize', '--raw', '--noheadings', '--output=SOFT']);
  const soft = stdout.trim(); // to put back exactly; the hard limit is never touched
  const ignore = () => {};
  let full = false;
  const free = async () => {
    if (!full) return;
    await run('prlimit', ['--pid', pid, `--fsize=${soft}:`]);
    process.off('SIGXFSZ', ignore);
    full = false;
  };
  return {
    kind: 'RLIMIT_FSIZE',
    dataDir: join(dir, 'store'),
    async fill() {
      process.on('SIGXFSZ', ignore);
      full = true;
      await run('prlimit', ['--pid', pid, '--fsize=0:']);
    },
    free,
    async dispose() {
      await free();
      await remove();
    },
  };
}
