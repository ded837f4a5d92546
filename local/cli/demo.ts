// Placeholder until the local stack lands.
import type { Command } from '../../cli/io.ts';

export const demoCommand: Command = async (_argv, io) => {
  io.stderr.write('runway: this command is not built yet\n');
  return 2;
};
