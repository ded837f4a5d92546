// What the local cloud needs from a Dockerfile to run an image as a process: the final stage's
// ENTRYPOINT, CMD and ENV. Exec form (`CMD ["node", "server.js"]`) runs as written; shell form runs
// under /bin/sh -c, as Docker does. Everything else (FROM, RUN, COPY...) is the image build, which
// the local registry replaces by snapshotting the directory.
import { invalidArgument } from './errors.ts';

export interface ImageConfig {
  /** ENTRYPOINT as argv (shell form as /bin/sh -c), empty when there is none. */
  entrypoint: string[];
  /** CMD as argv (shell form as /bin/sh -c); arguments to the entrypoint when there is one. */
  cmd: string[];
  /** ENV of the final stage. */
  env: Record<string, string>;
  /** The final stage's EXPOSE, when it says one. */
  exposedPort?: number;
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? '';
    if (/^\s*#/.test(line) || !line.trim()) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = `${line.replace(/\\\s*$/, '')} ${lines[++i]?.replace(/^\s*#.*$/, '') ?? ''}`;
    }
    const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(line);
    if (match)
      out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  return out;
}

function argv(ins: Instruction, file: string): { exec: boolean; args: string[] } {
  if (ins.args.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(ins.args);
    } catch {
      throw invalidArgument(
        `${file}:${ins.line}: ${ins.keyword} looks like exec form but is not a JSON array of strings`,
      );
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
      throw invalidArgument(`${file}:${ins.line}: ${ins.keyword} must be a JSON array of strings`);
    }
    return { exec: true, args: parsed };
  }
  return { exec: false, args: ins.args ? [ins.args] : [] };
}

function envPairs(args: string): [string, string][] {
  const unquote = (v: string) => v.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  if (!args.includes('=')) {
    const [key, ...rest] = args.split(/\s+/);
    return key ? [[key, rest.join(' ')]] : [];
  }
  const pairs: [string, string][] = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    pairs.push([m[1]!, unquote(m[2]!)]);
  }
  return pairs;
}

/** Reads the final stage of a Dockerfile; throws INVALID_ARGUMENT when it has no runnable command. */
export function parseDockerfile(text: string, file = 'Dockerfile'): ImageConfig {
  let entrypoint: { exec: boolean; args: string[] } | undefined;
  let cmd: { exec: boolean; args: string[] } | undefined;
  let env: Record<string, string> = {};
  let exposedPort: number | undefined;
  let stages = 0;
  for (const ins of instructions(text)) {
    switch (ins.keyword) {
      case 'FROM':
        stages++;
        entrypoint = undefined;
        cmd = undefined;
        env = {};
        exposedPort = undefined;
        break;
      case 'ENTRYPOINT':
        entrypoint = argv(ins, file);
        cmd = undefined;
        break;
      case 'CMD':
        cmd = argv(ins, file);
        break;
      case 'ENV':
        for (const [k, v] of envPairs(ins.args)) env[k] = v;
        break;
      case 'EXPOSE': {
        const port = Number.parseInt(ins.args, 10);
        if (port > 0 && port < 65536) exposedPort = port;
        break;
      }
    }
  }
  if (stages === 0) throw invalidArgument(`${file} has no FROM instruction`);
  const shell = (part: { exec: boolean; args: string[] } | undefined) =>
    part && !part.exec ? ['/bin/sh', '-c', part.args.join(' ')] : (part?.args ?? []);
  const config = {
    entrypoint: shell(entrypoint),
    // Docker ignores CMD after a shell-form ENTRYPOINT.
    cmd: entrypoint && !entrypoint.exec ? [] : shell(cmd),
    env,
    ...(exposedPort ? { exposedPort } : {}),
  };
  if (containerArgv(config).length === 0) {
    throw invalidArgument(
      `${file} has no CMD or ENTRYPOINT in its final stage, so the image has nothing to run`,
    );
  }
  return config;
}

/**
 * The argv a container runs, with Cloud Run's overrides: `command` replaces ENTRYPOINT (and drops
 * CMD), `args` replaces CMD.
 */
export function containerArgv(
  config: Pick<ImageConfig, 'entrypoint' | 'cmd'>,
  override: { command?: string[]; args?: string[] } = {},
): string[] {
  const entrypoint = override.command?.length ? override.command : config.entrypoint;
  const args = override.args?.length ? override.args : override.command?.length ? [] : config.cmd;
  return [...entrypoint, ...args];
}
