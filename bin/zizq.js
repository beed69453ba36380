#!/usr/bin/env node
// Executable shim behind package.json "bin": registers tsx's ESM loader, then runs
// bin/zizq.ts, so an installed `zizq` works without a build step or --import flags.
import { register } from "tsx/esm/api";

register();
await import("./zizq.ts");
