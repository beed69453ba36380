// The kill -9 harness the crash tests share: spawn a real server on a dir with the file's
// base flags, and after each test close its take streams and kill -9 every server it
// started (a test that fails half-way leaves nothing running). Registers its own hooks.

import { after, afterEach } from "node:test";
import type { TakeStream } from "../http/_client.ts";
import { type SpawnedServer, spawnServer } from "./server.ts";
import { cleanupTmp } from "./tmp.ts";

export interface CrashHarness {
  /** Start `zizq serve` on `dir` with the base flags plus `extra`. */
  spawn(dir: string, extra?: string[]): Promise<SpawnedServer>;
  /** Take streams to close after the test (push what the test opens). */
  streams: TakeStream[];
}

export function crashHarness(baseArgs: string[]): CrashHarness {
  const running: SpawnedServer[] = [];
  const streams: TakeStream[] = [];
  afterEach(async () => {
    await Promise.all(streams.splice(0).map((t) => t.close()));
    await Promise.all(running.splice(0).map((srv) => srv.kill9()));
  });
  after(() => cleanupTmp());
  return {
    streams,
    async spawn(dir, extra = []) {
      const srv = await spawnServer(dir, [...baseArgs, ...extra]);
      running.push(srv);
      return srv;
    },
  };
}
