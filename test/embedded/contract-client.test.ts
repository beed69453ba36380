// The shared client contract suite against the Client (lib/client) on a real server:
// the same assertions the embedded queue passes, so the two stay interchangeable.

import { after } from "node:test";
import { Client } from "../../lib/client/index.ts";
import { startServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { contractSuite } from "./_contract.ts";

after(cleanupTmp);

contractSuite("Client over HTTP", async () => {
  const server = await startServer();
  const client = new Client({ url: server.url });
  return {
    client,
    goAway: () => server.close(),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
});

contractSuite("Client over HTTP, MessagePack", async () => {
  const server = await startServer();
  const client = new Client({ url: server.url, format: "msgpack" });
  return {
    client,
    goAway: () => server.close(),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
});
