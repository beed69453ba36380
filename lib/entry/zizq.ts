// The package entry, `import { open, serve } from "zizq"`: the embedded queue and the
// in-process server. The Client and Worker are the `zizq/client` entry (lib/entry/client.ts).

export { open, type OpenOptions } from "../embedded/open.ts";
export { EmbeddedQueue } from "../embedded/embedded-queue.ts";
export { serve, type ServeOptions, type Server } from "./serve.ts";
