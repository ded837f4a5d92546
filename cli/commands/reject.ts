// `runway reject PIPELINE [--reason TEXT]`: answers the open gate with a rejection (approve.ts).
// Before live traffic moved the release ends REJECTED; before 100 % it ends ROLLED_BACK.
import type { Command } from '../io.ts';
import { gateCommand } from './approve.ts';

export const rejectCommand: Command = gateCommand('reject');
