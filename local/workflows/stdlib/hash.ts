// hash: checksums and HMACs of bytes or strings, as bytes.
import { createHash, createHmac } from 'node:crypto';
import { raise } from '../errors.ts';
import { bytesOf, fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

export const hashFunctions: [string, WfFunction][] = [
  [
    'hash.compute_checksum',
    fn(['data', 'algorithm'], ([d, a]) => {
      const alg = str(a, 'algorithm').toUpperCase();
      const names: Record<string, string> = {
        MD5: 'md5',
        SHA1: 'sha1',
        SHA256: 'sha256',
        SHA384: 'sha384',
        SHA512: 'sha512',
      };
      if (!names[alg])
        raise(
          'ValueError',
          `unsupported algorithm ${alg}: use MD5, SHA1, SHA256, SHA384 or SHA512`,
        );
      return new Uint8Array(createHash(names[alg]!).update(bytesOf(d, 'data')).digest());
    }),
  ],
  [
    'hash.compute_hmac',
    fn(['key', 'data', 'algorithm'], ([k, d, a]) => {
      const alg = str(a, 'algorithm').toUpperCase();
      const names: Record<string, string> = {
        SHA1: 'sha1',
        SHA256: 'sha256',
        SHA384: 'sha384',
        SHA512: 'sha512',
      };
      if (!names[alg])
        raise('ValueError', `unsupported algorithm ${alg}: use SHA1, SHA256, SHA384 or SHA512`);
      return new Uint8Array(
        createHmac(names[alg]!, bytesOf(k, 'key')).update(bytesOf(d, 'data')).digest(),
      );
    }),
  ],
];
