// Does a socket handed to node:http after the sniffer read from it and `unshift`ed the
// bytes back (lib/http/listen.ts) still get Node's native parser? node:http calls
// `parser.consume(handle)` only for a handle not consumed yet; this prints whether it did.
//   node --import tsx bench/sniff-consume.ts
// Result (Node 20.20.2): consumed: true. The unshifted first bytes are parsed from JS once;
// later requests on the connection go through the native consume path.

import http from "node:http";
import type { Socket } from "node:net";

const h1 = http.createServer((req, res) => { req.resume(); req.on("end", () => res.end("ok")); });
const [original] = h1.listeners("connection") as ((s: Socket) => void)[];
h1.removeListener("connection", original);
const seen: { consumed: boolean }[] = [];
h1.prependListener("connection", (socket: Socket) => {
  const onReadable = () => {
    const chunk = socket.read() as Buffer | null;
    if (!chunk) return;
    socket.off("readable", onReadable);
    socket.unshift(chunk); // what the sniffer does
    original.call(h1, socket);
    seen.push({ consumed: (socket as unknown as { _handle?: { _consumed?: boolean } })._handle?._consumed === true });
  };
  socket.on("readable", onReadable);
});
h1.listen(0, "127.0.0.1", async () => {
  const { port } = h1.address() as { port: number };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => http.get({ host: "127.0.0.1", port, agent }, (res) => { res.resume(); res.on("end", () => resolve()); }));
  }
  console.log(`connections: ${seen.length}, handle consumed by the native parser: ${seen.map((s) => s.consumed).join(", ")}`);
  agent.destroy();
  h1.close();
});
