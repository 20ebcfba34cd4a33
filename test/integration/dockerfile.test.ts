// The Dockerfile, checked without a Docker daemon: its shape (a build stage running npm ci, a slim
// Debian runtime, a user that is not root, the store on a /data volume, EXPOSE matching PORT, exec-form
// CMD with node first so it is PID 1 and gets docker stop's SIGTERM), that every COPY source exists and
// is not left out of the context by .dockerignore, and then its commands for real: the CMD with the
// image's environment refuses to serve without authentication, serves with INSECURE=1 and stops on
// SIGTERM, and the HEALTHCHECK command passes against a ready server and fails against one that is not.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { copyArgs, envOf, execForm, ignoredByDockerignore, parseDockerfile, type Stage } from '../support/dockerfile.ts';
import { REPO, cleanedAfterEach, startServerProcess } from '../support/serverProcess.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer } from '../support/testServer.ts';

const run = promisify(execFile);
const dockerfile = parseDockerfile(join(REPO, 'Dockerfile'));
const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
const runtime = dockerfile.stages.at(-1)!;
const runtimeEnv = envOf(runtime);

const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);

/** The CMD of the runtime stage as an argv (ENTRYPOINT, if any, first). */
function commandLine(): string[] {
  const entrypoint = last(runtime, 'ENTRYPOINT');
  const cmd = last(runtime, 'CMD');
  return [...(entrypoint ? execForm(entrypoint.args)! : []), ...(cmd ? execForm(cmd.args)! : [])];
}

describe('Dockerfile, read', () => {
  it('should build in a stage that runs npm ci and run in a slim Debian (glibc) image, never alpine', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile.stages) expect(stage.image, 'the RocksDB binding is prebuilt for glibc only').not.toMatch(/alpine/);
    const builds = dockerfile.stages.slice(0, -1);
    expect(builds.some((s) => all(s, 'RUN').some((r) => /\bnpm ci\b/.test(r.args))), 'a build stage installs from the lockfile').toBe(true);
    expect(runtime.image).toMatch(/^node:\d+-(bookworm|trixie)-slim$/);
    expect(all(runtime, 'RUN').some((r) => /\bnpm (ci|install)\b/.test(r.args)), 'the runtime stage installs nothing itself').toBe(false);
  });

  it('should run as a user that is not root', () => {
    const user = last(runtime, 'USER');
    expect(user, 'the runtime stage sets USER').toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    // Nothing after USER that would run as someone else or switch back.
    expect(runtime.instructions.slice(runtime.instructions.indexOf(user!) + 1).map((i) => i.keyword)).not.toContain('USER');
  });

  it('should start node itself, in exec form, so it is PID 1 and receives SIGTERM', () => {
    for (const keyword of ['CMD', 'ENTRYPOINT']) {
      for (const i of all(runtime, keyword)) expect(execForm(i.args), `${keyword} on line ${i.line} is in shell form: a sh would be PID 1`).not.toBeNull();
    }
    const argv = commandLine();
    const program = argv[0] === 'tini' || argv[0] === '/usr/bin/tini' ? argv.slice(argv.indexOf('--') + 1) : argv;
    expect(program[0], 'npm or a shell between the container and node would not forward SIGTERM as node needs').toBe('node');
    expect(program).toContain('serve');
    const script = program.find((a) => a.endsWith('.ts') || a.endsWith('.js'))!;
    expect(existsSync(join(REPO, script)), `${script} exists`).toBe(true);
    expect(last(runtime, 'STOPSIGNAL')?.args ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('should keep the store on a /data volume, listen on all interfaces on the exposed port, and not turn authentication checks off', () => {
    expect(runtimeEnv.get('DATA_DIR')).toBe('/data');
    const volumes = all(runtime, 'VOLUME').flatMap((v) => execForm(v.args) ?? v.args.split(/\s+/));
    expect(volumes).toContain('/data');
    expect(all(runtime, 'RUN').some((r) => /mkdir -p \/data/.test(r.args) && /chown/.test(r.args)), '/data is made and given to the server user').toBe(true);
    expect(runtimeEnv.get('HOST')).toBe('0.0.0.0');
    const exposed = all(runtime, 'EXPOSE').flatMap((e) => e.args.split(/\s+/)).map((p) => p.replace(/\/tcp$/, ''));
    expect(exposed).toContain(runtimeEnv.get('PORT') ?? '4000');
    // The default is the safe one: with HOST=0.0.0.0 the server refuses to start until the operator
    // configures JWT or says INSECURE=1 on purpose.
    for (const name of ['INSECURE', 'JWT_SECRET', 'JWT_PUBLIC_KEY']) expect(runtimeEnv.has(name), `${name} baked into the image`).toBe(false);
  });

  it('should have a HEALTHCHECK in exec form on a probe endpoint the server has', () => {
    const check = last(runtime, 'HEALTHCHECK');
    expect(check).toBeDefined();
    const cmd = /\bCMD\s+(\[.*\])$/.exec(check!.args);
    expect(cmd, 'HEALTHCHECK … CMD ["…"]').not.toBeNull();
    const argv = execForm(cmd![1]!)!;
    expect(argv[0], 'the slim image has no curl or wget').toBe('node');
    const endpoint = /\/(readyz|healthz)\b/.exec(argv.join(' '))?.[0];
    expect(endpoint).toBeDefined();
    expect(readFileSync(join(REPO, 'src/server/app.ts'), 'utf8')).toContain(`path === '${endpoint}'`);
  });

  it('should COPY only what exists in the repo and the build context keeps, and --from only earlier stages', () => {
    const copies = dockerfile.stages.flatMap((stage, index) =>
      [...all(stage, 'COPY'), ...all(stage, 'ADD')].map((instruction) => ({ index, instruction, ...copyArgs(instruction.args) })),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const { index, instruction, flags, sources } of copies) {
      const from = flags.get('from');
      if (from !== undefined) {
        const earlier = dockerfile.stages.slice(0, index).map((s) => s.name);
        expect(earlier, `line ${instruction.line}: --from=${from} names an earlier stage`).toContain(from);
        continue;
      }
      for (const source of sources) {
        expect(existsSync(join(REPO, source)), `line ${instruction.line}: ${source} exists in the repo`).toBe(true);
        expect(ignoredByDockerignore(dockerignore, source.replace(/^\.\//, '').replace(/\/$/, '')), `line ${instruction.line}: .dockerignore leaves ${source} out`).toBe(false);
      }
    }
    // What the server needs at run time reaches the runtime stage.
    const runtimeCopies = copies.filter((c) => c.index === dockerfile.stages.length - 1).flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '')));
    for (const needed of ['package.json', 'src', 'node_modules', 'web-demo/dist']) expect(runtimeCopies, `the runtime stage gets ${needed}`).toContain(needed);
    // …and what the image must never get from the context stays out.
    for (const path of ['node_modules', 'data', '.git', 'web-demo/dist', 'web-demo/node_modules']) {
      expect(ignoredByDockerignore(dockerignore, path), `.dockerignore leaves ${path} out`).toBe(true);
    }
  });
});

describe('Dockerfile, run', () => {
  const { started, removals } = cleanedAfterEach();

  const imageEnv = async (more: Record<string, string> = {}) => {
    const { dir, remove } = await tempDir('evledger-image-');
    removals.push(remove);
    return { ...Object.fromEntries(runtimeEnv), DATA_DIR: dir, LOG_LEVEL: 'warn', ...more };
  };

  it("should refuse to serve with the image's environment until authentication is configured", async () => {
    const [program, ...args] = commandLine();
    const server = startServerProcess(program!, args, await imageEnv());
    started.push(server);
    const exit = await server.exited;
    expect(exit.code).not.toBe(0);
    expect(server.stderr()).toMatch(/refusing to serve on HOST=0\.0\.0\.0: authentication is off/);
  });

  it('should serve with INSECURE=1 and exit 0 on SIGTERM, as docker stop sends it', async () => {
    const [program, ...args] = commandLine();
    const server = startServerProcess(program!, args, await imageEnv({ INSECURE: '1', PORT: '0' }));
    started.push(server);
    const base = await server.url;
    expect((await fetch(`${base.replace('0.0.0.0', '127.0.0.1')}/readyz`)).status).toBe(200);
    process.kill(server.pid, 'SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('should pass the HEALTHCHECK command against a ready server and fail it against one that is not', async () => {
    const argv = execForm(/\bCMD\s+(\[.*\])$/.exec(last(runtime, 'HEALTHCHECK')!.args)![1]!)!;
    const healthcheck = async (port: number) =>
      run(argv[0]!, argv.slice(1), { env: { ...process.env, PORT: String(port) } }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    const server = await startTServer();
    try {
      expect(await healthcheck(server.app.port)).toBe(0);
      await server.app.store.close();
      expect(await healthcheck(server.app.port)).toBe(1);
    } finally {
      await server.stop();
    }
  });
});
