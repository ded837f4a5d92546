// Stands in for the `debug` package in the deployer's bundle (scripts/build.mjs): Express, its
// router and body-parser create their DEBUG=express:* loggers when they load, and the real package
// costs ~5 ms of every cold start probing the terminal. The deployer logs through its own logger;
// run the sources (node --import tsx services/deployer/main.ts) for DEBUG output.
'use strict';

function createDebug(namespace) {
  const log = () => {};
  log.namespace = namespace;
  log.enabled = false;
  log.extend = (name, delimiter = ':') => createDebug(`${namespace}${delimiter}${name}`);
  log.destroy = () => true;
  return log;
}
createDebug.enable = () => {};
createDebug.disable = () => '';
createDebug.enabled = () => false;
createDebug.debug = createDebug;
createDebug.default = createDebug;

module.exports = createDebug;
