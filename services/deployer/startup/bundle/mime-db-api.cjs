// Stands in for mime-db in the deployer's bundle (scripts/build.mjs). Express loads the whole
// database (2,500 types) to name what it sends, ~5 ms of every cold start; the deployer sends JSON
// and the short texts of express's own status answers, nothing by file extension. Any type not
// here is sent as application/octet-stream, which is what express does for an unknown one.
'use strict';

module.exports = {
  'application/json': {
    source: 'iana',
    charset: 'UTF-8',
    compressible: true,
    extensions: ['json'],
  },
  'application/octet-stream': { source: 'iana', compressible: false, extensions: ['bin'] },
  'text/html': { source: 'iana', compressible: true, extensions: ['html', 'htm'] },
  'text/plain': { source: 'iana', compressible: true, extensions: ['txt', 'text'] },
};
