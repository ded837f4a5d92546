// Placeholder until the engine lands (issue 3).
import type { Command } from '../../cli/io.ts';

const notYet: Command = async (_argv, io) => {
  io.stderr.write('runway: the local Workflows engine is not built yet\n');
  return 2;
};
export const runCommand = notYet;
export const serveCommand = notYet;
