// hash: checksums and HMACs of bytes or strings, as bytes.
import { nodeCrypto } from '../node-crypto.ts';
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { bytesOf, fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

/** Google's algorithm names and Node's. */
const ALGORITHMS: Record<string, string> = {
  MD5: 'md5',
  SHA1: 'sha1',
  SHA256: 'sha256',
  SHA384: 'sha384',
  SHA512: 'sha512',
};

/** Node's name for `algorithm`, which must be one of `allowed` (any case). */
function algorithm(a: Value | undefined, allowed: string[]): string {
  const alg = str(a, 'algorithm').toUpperCase();
  if (!allowed.includes(alg))
    raise(
      'ValueError',
      `unsupported algorithm ${alg}: use ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`,
    );
  return ALGORITHMS[alg]!;
}

export const hashFunctions: [string, WfFunction][] = [
  [
    'hash.compute_checksum',
    fn(['data', 'algorithm'], ([d, a]) => {
      const alg = algorithm(a, ['MD5', 'SHA1', 'SHA256', 'SHA384', 'SHA512']);
      return new Uint8Array(nodeCrypto().createHash(alg).update(bytesOf(d, 'data')).digest());
    }),
  ],
  [
    'hash.compute_hmac',
    fn(['key', 'data', 'algorithm'], ([k, d, a]) => {
      const alg = algorithm(a, ['SHA1', 'SHA256', 'SHA384', 'SHA512']);
      return new Uint8Array(
        nodeCrypto().createHmac(alg, bytesOf(k, 'key')).update(bytesOf(d, 'data')).digest(),
      );
    }),
  ],
];
