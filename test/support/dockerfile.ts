// A small Dockerfile reader for the static checks of the repo's Dockerfile (there is no Docker daemon
// to build it on CI): instructions with their continuation lines joined, grouped by stage, ARG defaults
// substituted into FROM, and exec-form (JSON array) arguments told apart from shell form.
import { readFileSync } from 'node:fs';

export interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** The line it starts on (1-based), for failure messages. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: ReadonlyMap<string, string>;
  readonly stages: readonly Stage[];
}

export function parseDockerfile(path: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trimEnd();
      if (!pending && (line.trim() === '' || line.trimStart().startsWith('#'))) return; // comments, parser directives
      if (pending && line.trimStart().startsWith('#')) return; // comments inside a continued instruction
      const continued = line.endsWith('\\');
      const text = continued ? line.slice(0, -1) : line;
      pending = pending ? { text: `${pending.text} ${text.trim()}`, line: pending.line } : { text: text.trim(), line: i + 1 };
      if (continued) return;
      const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
      instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
      pending = null;
    });
  if (pending) throw new Error(`${path}: the last instruction ends in a line continuation`);

  const globalArgs = new Map<string, string>();
  const stages: { image: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
        const value = globalArgs.get((a ?? b)!);
        if (value === undefined) throw new Error(`line ${instruction.line}: FROM uses ${a ?? b}, which no ARG before the first FROM defines`);
        return value;
      });
      stages.push({ image, name: words[1]?.toUpperCase() === 'AS' ? words[2]! : null, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may come before the first FROM`);
      const [name, value = ''] = instruction.args.split('=');
      globalArgs.set(name!.trim(), value.trim());
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** The JSON array of an exec-form instruction (CMD ["node", …]), or null for shell form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an array of strings: ${args}`);
  return parsed;
}

/** ENV instructions of a stage as one map (`ENV A=1 B=2` and the old `ENV A 1` form). */
export function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    if (!args.includes('=')) {
      const [name, ...value] = args.split(/\s+/);
      env.set(name!, value.join(' '));
      continue;
    }
    for (const pair of args.match(/\S+=("[^"]*"|\S*)/g) ?? []) {
      const at = pair.indexOf('=');
      env.set(pair.slice(0, at), pair.slice(at + 1).replace(/^"(.*)"$/, '$1'));
    }
  }
  return env;
}

/** The flags (`--from=web`) and the sources and destination of a COPY or ADD. */
export function copyArgs(args: string): { flags: Map<string, string>; sources: string[]; destination: string } {
  const words = execForm(args) ?? args.split(/\s+/);
  const flags = new Map<string, string>();
  while (words[0]?.startsWith('--')) {
    const [name, value = ''] = words.shift()!.slice(2).split('=');
    flags.set(name!, value);
  }
  if (words.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { flags, sources: words.slice(0, -1), destination: words.at(-1)! };
}

/**
 * Whether .dockerignore's patterns leave `path` (relative to the context) out of the build context. A
 * subset of Docker's rules, enough for this repo's file: `name`, `dir/name`, `*` globs within one path
 * segment, a leading `**\/`, and `!` exceptions; a pattern that matches a directory excludes what is in it.
 */
export function ignoredByDockerignore(patterns: readonly string[], path: string): boolean {
  const toRegExp = (pattern: string) => {
    const body = pattern
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map((segment) => (segment === '**' ? '(?:[^/]+/)*' : `${segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
      .join('')
      .replace(/\/$/, '');
    return new RegExp(`^${body}(?:/.*)?$`);
  };
  let ignored = false;
  for (const raw of patterns) {
    const pattern = raw.trim();
    if (!pattern || pattern.startsWith('#')) continue;
    const exception = pattern.startsWith('!');
    if (toRegExp(exception ? pattern.slice(1) : pattern).test(path)) ignored = !exception;
  }
  return ignored;
}
