// Stands in for @grpc/grpc-js and @grpc/proto-loader in the deployer's bundle (scripts/build.mjs).
// The deployer's Google clients speak REST ({fallback: true}, main.ts), yet google-gax loads its
// gRPC transport whenever it loads: ~21 ms of every cold start. google-gax needs only these names
// while it loads (ClientStub extends Client); any actual use of gRPC fails with this message.
'use strict';

const message =
  "gRPC is not in runway's deployer bundle: its Google clients must be made with {fallback: true} (REST)";

function unavailable() {
  throw new Error(message);
}

class Client {
  constructor() {
    unavailable();
  }
}

module.exports = {
  Client,
  ChannelCredentials: { createSsl: unavailable, createInsecure: unavailable },
  credentials: { createSsl: unavailable, createInsecure: unavailable },
  loadPackageDefinition: unavailable,
  loadSync: unavailable,
  fromJSON: unavailable,
};
