// Whole-process start-up of the `runway` command from its bundle (bin/runway.js, dist/cli/),
// against `node -e 0` timed in the same rounds (medians of 9, ratios printed). Targets:
// `runway workflows run` of a one-step workflow <= 1.5x, `runway --help` <= 1.3x, and
// `runway status --json` against a running local stack <= 2x. Floors timed alongside: as many
// empty ESM modules as each command loads, the engine's modules loaded with nothing run, and
// Google's clients made as `status` makes them; also the TypeScript sources through tsx
// (RUNWAY_DEV=1), what every command paid before the bundle.
// Two phases, each with its own `node -e 0`: the stack runs only while `status` is timed, so its
// own work does not slow the other commands. The last line is one JSON object of all figures.
//   node --import tsx bench/cli-startup.bench.ts [--rounds N]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'runway.js');
const rounds = Number(parseArgs({ options: { rounds: { type: 'string' } } }).values.rounds ?? 9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const tmp = mkdtempSync(join(tmpdir(), 'runway-bench-cli-'));
const home = join(tmp, 'home');
const workflow = join(tmp, 'one-step.yaml');
writeFileSync(workflow, '- r:\n    return: 42\n');

// Builds the bundle if it is stale (no timed run may rebuild), and checks the output once.
const manifestFile = join(root, 'dist', 'cli', 'manifest.json');
const env = { ...process.env, RUNWAY_DEV: '' };
const check = spawnSync(process.execPath, [bin, 'workflows', 'run', workflow], { cwd: root, env });
if (String(check.stdout) !== '42\n') throw new Error(`runway workflows run: ${check.stderr}`);
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
  id: string;
  inputs: Record<string, [number, number]>;
};
const buildDir = join(root, 'dist', 'cli', manifest.id);

/** The modules a command loads from the bundle: bin/runway.js, main.js, its chunk and imports. */
function modulesLoaded(chunkPrefix?: string): number {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(buildDir, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) visit(m[1]!);
  };
  visit('main.js');
  if (chunkPrefix) visit(readdirSync(buildDir).find((f) => f.startsWith(chunkPrefix))!);
  return seen.size + 1;
}

function chunkUrl(prefix: string): string {
  return pathToFileURL(join(buildDir, readdirSync(buildDir).find((f) => f.startsWith(prefix))!))
    .href;
}

/** `n` empty ESM modules, each importing the next: Node's own cost of loading n modules. */
function emptyModules(n: number): string {
  const dir = mkdtempSync(join(tmp, `esm-${n}-`));
  for (let i = 0; i < n; i++)
    writeFileSync(join(dir, `m${i}.mjs`), i + 1 < n ? `import './m${i + 1}.mjs';\n` : '');
  return join(dir, 'm0.mjs');
}

/** What bin/runway.js does to tell a fresh bundle from a stale one, in microseconds (median). */
function stalenessCheckUs(): number {
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as typeof manifest;
    for (const [file, [mtimeMs, size]] of Object.entries(m.inputs)) {
      const s = statSync(join(root, file), { throwIfNoEntry: false });
      if (!s || s.mtimeMs !== mtimeMs || s.size !== size) throw new Error(`${file} changed`);
    }
    times.push((performance.now() - t) * 1000);
  }
  return median(times);
}

type Commands = Record<string, { argv: string[]; env?: NodeJS.ProcessEnv }>;

/** Each command once per round, in turn, so that load on the machine falls on all alike. */
function time(commands: Commands): Record<string, number> {
  const times: Record<string, number[]> = {};
  for (let i = 0; i < rounds; i++) {
    for (const [name, { argv, env: e }] of Object.entries(commands)) {
      const t = performance.now();
      const r = spawnSync(process.execPath, argv, { cwd: root, stdio: 'ignore', env: e ?? env });
      times[name] ??= [];
      times[name].push(performance.now() - t);
      if (r.status !== 0) throw new Error(`${name} exited with ${r.status}`);
    }
  }
  return Object.fromEntries(
    Object.entries(times).map(([name, xs]) => [name, round(median(xs), 1)]),
  );
}

const modules = {
  help: modulesLoaded(),
  workflowsRun: modulesLoaded('workflows-'),
  status: modulesLoaded('status-'),
};
// A floor for `workflows run` below which no CLI could start: the engine bundled as the CLI's
// bundle is (ESM, yaml bundled in, minified the same way), loading and parsing the one-step
// definition, and nothing else: no command line, no execution, no output.
const parseFloor = join(tmp, 'parse-floor.mjs');
await (await import('esbuild')).build({
  stdin: {
    contents: `import { readFileSync } from 'node:fs';
import { parseWorkflow } from ${JSON.stringify(join(root, 'local/workflows/engine.ts'))};
parseWorkflow(readFileSync(process.argv[2], 'utf8'));`,
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'silent',
  outfile: parseFloor,
  banner: {
    js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
  },
  plugins: [
    {
      name: 'as-the-cli-bundle',
      setup(b) {
        // As scripts/build-cli.mjs does: yaml and zod inside, the rest from node_modules, and each
        // source's import.meta.url its own file's (the connectors read a JSON file beside them).
        b.onResolve({ filter: /^[^./]/ }, ({ path }) =>
          /^(yaml|zod)(\/|$)/.test(path) ? undefined : { path, external: true },
        );
        b.onLoad({ filter: /\.ts$/ }, ({ path }) => ({
          contents: readFileSync(path, 'utf8').replaceAll(
            'import.meta.url',
            JSON.stringify(pathToFileURL(path).href),
          ),
          loader: 'ts',
        }));
      },
    },
  ],
});
const sources = { ...process.env, RUNWAY_DEV: '1' };
const commands = time({
  node: { argv: ['-e', '0'] },
  help: { argv: [bin, '--help'] },
  helpFloor: { argv: [emptyModules(modules.help)] },
  workflowsRun: { argv: [bin, 'workflows', 'run', workflow] },
  workflowsRunFloor: { argv: [emptyModules(modules.workflowsRun)] },
  // What the engine's own modules cost to load, with nothing run: the CLI cannot start below it.
  workflowsRunEngineLoad: {
    argv: ['--input-type=module', '-e', `await import(${JSON.stringify(chunkUrl('workflows-'))});`],
  },
  workflowsRunParse: { argv: [parseFloor, workflow] },
  helpSources: { argv: [bin, '--help'], env: sources },
  workflowsRunSources: { argv: [bin, 'workflows', 'run', workflow], env: sources },
});

// status's floor: Google's three clients made as status makes them (REST over loopback, a fake
// token) and initialized, which loads their protos; no request is sent.
const googleClients = `
const { OAuth2Client } = await import('google-auth-library');
const { ServicesClient, RevisionsClient } = await import('@google-cloud/run');
const { ExecutionsClient } = await import('@google-cloud/workflows');
const authClient = new OAuth2Client();
authClient.setCredentials({ access_token: 'x', expiry_date: Date.now() + 3600000 });
const options = { fallback: true, apiEndpoint: '127.0.0.1', port: 9, protocol: 'http', authClient };
for (const Client of [ServicesClient, RevisionsClient, ExecutionsClient])
  await new Client(options).initialize();
`;
const stack: ChildProcess = spawn(
  process.execPath,
  [bin, 'local', 'up', '--json', '--home', home, '--pubsub', 'bridge', '--users', '0'],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env },
);
let withStack: Record<string, number>;
try {
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: stack.stdout! }).once('line', resolve);
    stack.once('exit', (code) => reject(new Error(`runway local up exited with ${code}`)));
  });
  withStack = time({
    node: { argv: ['-e', '0'] },
    status: { argv: [bin, 'status', '--json'], env: { ...env, RUNWAY_HOME: home } },
    statusFloor: { argv: ['--input-type=module', '-e', googleClients] },
  });
} finally {
  stack.kill('SIGTERM');
  await new Promise((r) => stack.once('exit', r));
}
const rebuilt = JSON.parse(readFileSync(manifestFile, 'utf8')).id !== manifest.id;
const checkUs = stalenessCheckUs();
rmSync(tmp, { recursive: true, force: true });
if (rebuilt) throw new Error('the bundle was rebuilt during the timed runs: figures are void');

const phases = [
  { label: 'without a stack', ms: commands },
  { label: 'with a local stack running', ms: withStack },
];
const ratioOf = (name: string) => {
  const { ms } = phases.find((p) => p.ms[name] !== undefined)!;
  return round(ms[name]! / ms.node!);
};
for (const { label, ms } of phases) {
  console.log(`-- ${label}`);
  for (const [name, t] of Object.entries(ms))
    console.log(`${name.padEnd(24)} ${t.toFixed(1).padStart(7)} ms  ${ratioOf(name)}x node -e 0`);
}

const floors: Record<string, string> = {
  help: `${modules.help} empty ESM modules`,
  workflowsRun: `${modules.workflowsRun} empty ESM modules`,
  status: "Google's three clients made and initialized as status does, no request sent",
};
const targets = [
  { name: 'help', label: 'runway --help', target: 1.3 },
  { name: 'workflowsRun', label: 'runway workflows run (one step)', target: 1.5 },
  { name: 'status', label: 'runway status --json', target: 2 },
].map((t) => ({ ...t, ratio: ratioOf(t.name), floor: ratioOf(`${t.name}Floor`) }));
for (const t of targets)
  console.log(
    `${t.label}: ${ratioOf(t.name)}x node -e 0 (target <= ${t.target}x: ${t.ratio <= t.target ? 'met' : 'NOT met'}); floor ${t.floor}x (${floors[t.name]}); from the sources ${t.name === 'status' ? 'not timed' : `${ratioOf(`${t.name}Sources`)}x`}`,
  );
console.log(
  `runway workflows run: the engine's modules alone (loaded, nothing run) ${ratioOf('workflowsRunEngineLoad')}x; the engine bundled alone, parsing the definition and nothing else ${ratioOf('workflowsRunParse')}x`,
);
const files = Object.keys(manifest.inputs).length;
console.log(`staleness check: ${files} files stat-ed in ${checkUs.toFixed(0)} us`);

const figures = {
  rounds,
  ms_median: commands,
  ms_median_with_stack: withStack,
  modules,
  targets: Object.fromEntries(
    targets.map((t) => [
      t.name,
      { ratio: t.ratio, target: t.target, met: t.ratio <= t.target, floor_ratio: t.floor },
    ]),
  ),
  sources_ratio: {
    help: ratioOf('helpSources'),
    workflowsRun: ratioOf('workflowsRunSources'),
  },
  workflows_engine_load_ratio: ratioOf('workflowsRunEngineLoad'),
  workflows_parse_floor_ratio: ratioOf('workflowsRunParse'),
  staleness_check_us: round(checkUs, 0),
  staleness_check_files: files,
};
console.log(JSON.stringify(figures));
