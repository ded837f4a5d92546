// The `runway` command: finds the subcommand and loads only its module, so each starts fast.
import { type CliIo, type Command, processIo } from './io.ts';

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

const commands: Record<string, Entry> = {
  'workflows run': {
    summary: 'run one execution of a Workflows definition: FILE [--data JSON | --data-file PATH]',
    load: async () => (await import('./commands/workflows.ts')).runCommand,
  },
  'workflows serve': {
    summary: 'serve the Workflows Executions API: [--port N] [--dir DIR]',
    load: async () => (await import('./commands/workflows.ts')).serveCommand,
  },
  'local up': {
    summary: 'start the local cloud: [--json] [--time-scale N] [--iam on|off] [--infra DIR]',
    load: async () => (await import('./commands/up.ts')).upCommand,
  },
  'local env': {
    summary: "point gcloud and Google's clients at the local cloud: [--shell bash|fish|powershell]",
    load: async () => (await import('./commands/env.ts')).envCommand,
  },
  'local iam': {
    summary:
      'the grants no call used since the stack started (or those used): unused|used [--json]',
    load: async () => (await import('./commands/iam.ts')).iamCommand,
  },
  'local push': {
    summary: 'push a directory as an image: DIR IMAGE_REF',
    load: async () => (await import('./commands/push.ts')).pushCommand,
  },
  'local build': {
    summary:
      'run a cloudbuild.yaml on the local Cloud Build: [DIR] [--config FILE] [--substitutions K=V,...] [--async]',
    load: async () => (await import('./commands/build.ts')).buildCommand,
  },
  status: {
    summary: 'services, revisions, traffic and recent releases: [--json]',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  approve: {
    summary: "answer the open gate of a pipeline's release: PIPELINE [--reason TEXT]",
    load: async () => (await import('./commands/approve.ts')).approveCommand,
  },
  reject: {
    summary: "reject the release waiting at a pipeline's gate: PIPELINE [--reason TEXT]",
    load: async () => (await import('./commands/reject.ts')).rejectCommand,
  },
  abort: {
    summary: "stop a pipeline's running release: PIPELINE [--reason TEXT]",
    load: async () => (await import('./commands/abort.ts')).abortCommand,
  },
  rollback: {
    summary: 'live back to its previous digest: PIPELINE [--to DIGEST] [--reason TEXT] [--wait]',
    load: async () => (await import('./commands/rollback.ts')).rollbackCommand,
  },
  release: {
    summary:
      'release an image: PIPELINE IMAGE@DIGEST [--override-freeze NAME --reason TEXT] [--wait]',
    load: async () => (await import('./commands/release.ts')).releaseCommand,
  },
  history: {
    summary: "a pipeline's releases and rollbacks: PIPELINE [--json] [--limit N] [--check]",
    load: async () => (await import('./commands/history.ts')).historyCommand,
  },
  logs: {
    summary:
      'logs of a service, revision, execution or build: NAME | --execution NAME | --build ID',
    load: async () => (await import('./commands/logs.ts')).logsCommand,
  },
  console: {
    summary: 'the web console: [--port N] [--no-open] [--project P --region R]',
    load: async () => (await import('./commands/console.ts')).consoleCommand,
  },
  demo: {
    summary: 'run the whole pipeline on this machine with the sample app',
    load: async () => (await import('./commands/demo.ts')).demoCommand,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(
    ([name, e]) => `  runway ${name.padEnd(16)} ${e.summary}`,
  );
  return `usage:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const two = argv.slice(0, 2).join(' ');
  const name = commands[two] ? two : argv[0];
  const entry = name ? commands[name] : undefined;
  if (!entry || !name) {
    const help = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help';
    io.stderr.write(help ? usage() : `runway: unknown command '${argv.join(' ')}'\n${usage()}`);
    return help ? 0 : 2;
  }
  const rest = argv.slice(name.split(' ').length);
  const command = await entry.load();
  return command(rest, io);
}
