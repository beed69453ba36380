// The `zizq` entry point: hands argv to lib/cli/main.ts and exits with its code.
// Kept thin so tests can drive the real CLI through main() without a child process.
import { main } from "../lib/cli/main.ts";

process.exitCode = await main(process.argv);
