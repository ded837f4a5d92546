// node:crypto, loaded at its first use: loading it costs a one-step `runway workflows run` ~8 ms,
// and most executions never hash, make a callback, or ask for their own id.
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  loaded ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto;
  return loaded;
}

export const randomUUID = (): string => nodeCrypto().randomUUID();
