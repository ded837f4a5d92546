// The deployer as its image runs it: the node arguments of the Dockerfile's CMD, so the
// benchmarks measure the production command line, flags included.
import { readFileSync } from 'node:fs';
import { parseDockerfile } from '../local/registry/dockerfile.ts';

export function deployerNodeArgs(root: string): string[] {
  const file = `${root}/services/deployer/Dockerfile`;
  const [program, ...args] = parseDockerfile(readFileSync(file, 'utf8'), file).cmd;
  if (program !== 'node') throw new Error(`${file}: CMD should start with node, not ${program}`);
  return args;
}
