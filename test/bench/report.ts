// What every bench section shares: a Section is a module that measures and reports rows; a row is a
// figure next to its baseline measured in the same run (the machine is shared and noisy, so a figure
// alone says little), with their ratio and, where there is one, the target the ratio or figure must meet.
import { performance } from 'node:perf_hooks';

export interface Section {
  readonly name: string;
  readonly description: string;
  /** `parts` is the list after `name:` on the command line (`engine:codec,replay`); empty means all. */
  run(bench: Bench, parts: readonly string[]): Promise<void>;
}

export interface Figure {
  readonly value: number;
  readonly unit: string;
}

export interface Target {
  /** What is compared: the ratio figure / baseline, or the figure itself. */
  readonly on: 'ratio' | 'figure';
  readonly op: '>=' | '<';
  readonly value: number;
}

export interface Row {
  readonly measurement: string;
  readonly figure: Figure;
  readonly baselineName: string;
  readonly baseline: Figure;
  /** How the ratio figure / baseline is shown: `percent` for "share of a ceiling", `times` otherwise. */
  readonly ratio: 'percent' | 'times';
  readonly target?: Target | undefined;
}

interface Group {
  readonly title: string;
  readonly rows: Row[];
  readonly notes: string[];
}

export class Bench {
  readonly groups: Group[] = [];

  constructor(readonly section: string) {}

  group(title: string): Group {
    const group: Group = { title, rows: [], notes: [] };
    this.groups.push(group);
    progress(`[${this.section}] ${title}`);
    return group;
  }

  row(group: Group, row: Row): void {
    group.rows.push(row);
    const [, , , , ratio, target, verdict] = cells(row);
    progress(`  ${row.measurement}: ${fmt(row.figure)} vs ${fmt(row.baseline)} → ${ratio} ${target} ${verdict}`);
  }

  note(group: Group, text: string): void {
    group.notes.push(text);
    progress(`  note: ${text}`);
  }

  /** Rows whose target was missed, for the closing summary. */
  missed(): Row[] {
    return this.groups.flatMap((g) => g.rows.filter((r) => r.target && !meets(r)));
  }

  print(): void {
    const header = ['measurement', 'figure', 'baseline (same run)', 'baseline figure', 'ratio', 'target', ''];
    const all = this.groups.flatMap((g) => g.rows.map(cells));
    const widths = header.map((h, i) => Math.max(h.length, ...all.map((c) => c[i]!.length)));
    const line = (c: readonly string[]) => `| ${c.map((s, i) => (i === 1 || i === 3 || i === 4 ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join(' | ')} |`;
    const out: string[] = [`\n## ${this.section}\n`];
    for (const g of this.groups) {
      out.push(`### ${g.title}`, line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
      for (const r of g.rows) out.push(line(cells(r)));
      for (const n of g.notes) out.push(`  · ${n}`);
      out.push('');
    }
    console.log(out.join('\n'));
  }
}

function cells(r: Row): string[] {
  const ratio = r.figure.value / r.baseline.value;
  const ratioText = !Number.isFinite(ratio) ? '–' : r.ratio === 'percent' ? `${(ratio * 100).toFixed(1)} %` : `${ratio.toFixed(2)}×`;
  const t = r.target;
  const targetText = !t ? '' : t.on === 'ratio' ? `${t.op === '>=' ? '≥' : '<'} ${r.ratio === 'percent' ? `${t.value * 100} %` : `${t.value}×`}` : `${t.op === '>=' ? '≥' : '<'} ${fmt({ value: t.value, unit: r.figure.unit })}`;
  return [r.measurement, fmt(r.figure), r.baselineName, fmt(r.baseline), ratioText, targetText, !t ? '' : meets(r) ? 'ok' : 'MISSED'];
}

function meets(r: Row): boolean {
  const t = r.target!;
  const x = t.on === 'ratio' ? r.figure.value / r.baseline.value : r.figure.value;
  return t.op === '>=' ? x >= t.value : x < t.value;
}

export function fmt(f: Figure): string {
  const v = f.value;
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${f.unit}`;
}

export const progress = (text: string) => process.stderr.write(`${text}\n`);

// --- measuring -----------------------------------------------------------------------------------

export const now = () => performance.now();

/** Runs `fn` and returns its result and the elapsed seconds. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ result: T; seconds: number }> {
  const start = now();
  const result = await fn();
  return { result, seconds: (now() - start) / 1000 };
}

/**
 * Ops per second of each named op: every op runs for `ms` in turn, `rounds` times over, and keeps its
 * best round. On a shared machine other load only ever slows a round down, so the best of many short
 * interleaved rounds is stable from run to run where one long timing is not.
 */
export function bestRates<K extends string>(ops: Record<K, (i: number) => unknown>, rounds = 30, ms = 30): Record<K, number> {
  const best = {} as Record<K, number>;
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(ops) as K[]) {
      const op = ops[name];
      let calls = 0;
      const start = now();
      let elapsed = 0;
      // Check the clock every 100 calls: reading it costs about as much as a small op.
      while ((elapsed = now() - start) < ms) for (let j = 0; j < 100; j++) op(calls++);
      best[name] = Math.max(best[name] ?? 0, (calls / elapsed) * 1000);
    }
  }
  return best;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Integers from a fixed seed, so every run measures the same workload. */
export function seededRandom(seed = 0x9e3779b9): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
}
