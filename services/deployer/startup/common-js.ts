// Google's client libraries are CommonJS, loaded lazily with import().

/**
 * The exports of a CommonJS module loaded with import(): Node and esbuild's chunks put them on
 * `default`, tsx spreads them on the namespace (and leaves `default` empty for an `__esModule`).
 */
export function commonJs<T extends { default: unknown }>(ns: T): T['default'] {
  return (ns.default ?? ns) as T['default'];
}
