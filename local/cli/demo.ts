// Placeholder until the local stack lands.
import type { Command } from '../../cli/io.ts';

export const demoCommand: Command = async (_argv, io) => {
  io.stderr.write(
    'runway: this command needs the local Cloud Run, which is not built yet. Meanwhile: runway workflows run FILE, runway workflows serve.\n',
  );
  return 2;
};
