#!/usr/bin/env node
// The runway command line. Runs the TypeScript sources through tsx, so a clone works after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
