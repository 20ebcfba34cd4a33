// `npm run bench` runs every section; `npm run bench -- engine` one; `npm run bench -- engine:codec,replay`
// some parts of one. A section is a module under test/bench exporting a default `Section`: to add one,
// add one line to SECTIONS. Benchmarks are scripts, not tests: they print figures, each next to a
// baseline measured in the same run, and never fail a build (the exit code is 0 even when a target is
// missed; the table and the closing summary say MISSED).
import { Bench, progress, type Section } from './report.ts';

const SECTIONS: Record<string, () => Promise<{ default: Section }>> = {
  engine: () => import('./engine.ts'),
  api: () => import('./api.ts'),
  subscriptions: () => import('./subscriptions.ts'),
  cluster: () => import('./cluster.ts'),
};

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: npm run bench [-- section[:part,part] ...]\nsections: ${Object.keys(SECTIONS).join(', ')}\nenv: BENCH_EVENTS (events in the big store, default 1000000)`);
    return;
  }
  const wanted = (args.length > 0 ? args : Object.keys(SECTIONS)).map((arg) => {
    const [name, parts = ''] = arg.split(':');
    if (!SECTIONS[name!]) throw new Error(`unknown bench section "${name}"; sections: ${Object.keys(SECTIONS).join(', ')}`);
    return { name: name!, parts: parts.split(',').filter(Boolean) };
  });

  const benches: Bench[] = [];
  const started = Date.now();
  for (const { name, parts } of wanted) {
    const section = (await SECTIONS[name]!()).default;
    const bench = new Bench(section.name);
    progress(`\n== ${section.name}: ${section.description}`);
    await section.run(bench, parts);
    bench.print();
    benches.push(bench);
  }

  const missed = benches.flatMap((b) => b.missed().map((r) => `${b.section}: ${r.measurement}`));
  console.log(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s on ${process.version}, ${process.platform}/${process.arch}`);
  console.log(missed.length === 0 ? 'all targets met' : `targets MISSED:\n${missed.map((m) => `  - ${m}`).join('\n')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
