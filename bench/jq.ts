// jq filter benchmark: payloads/s of compileFilter + matchMany over 100k job payloads
// (~120 bytes each) for fast-path and engine filters, plus batch when/fold calls/s.
// Run: node --import tsx bench/jq.ts [payloadCount]   (deterministic inputs; best of 3 warm runs)

import os from "node:os";
import { closeJq, compileFilter, evalFold, evalWhen, warmJq } from "../lib/queue/jq.ts";

const COUNT = Number(process.argv[2] ?? 100_000);
const PLANS = ["free", "pro", "team"];

const payload = (n: number) =>
  JSON.stringify({
    n,
    user: { id: 100_000 + n, email: `user${n}@example.com`, plan: PLANS[n % 3] },
    tags: n % 2 ? ["a", "b"] : ["c"],
    sent_at: 1_735_689_600_000 + n,
  });
const payloads = Array.from({ length: COUNT }, (_, n) => payload(n));
const avgBytes = payloads.reduce((sum, p) => sum + Buffer.byteLength(p), 0) / COUNT;

const FILTERS = [
  '. | contains({"user":{"plan":"pro"}})',
  `. == ${payload(4242)}`,
  '(. | contains({"tags":["a"]})) and (. | contains({"user":{"plan":"team"}}))',
  ".n % 7 == 0",
  '.user.email | test("7@")',
  '.user.plan == "pro" and (.tags | length) > 1',
];

async function timeMatch(program: string): Promise<{ fast: boolean; ms: number; matched: number }> {
  let best = Infinity;
  let matched = 0;
  let fast = false;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const filter = await compileFilter(program);
    const verdicts = await filter.matchMany(payloads);
    best = Math.min(best, performance.now() - started);
    matched = verdicts.filter(Boolean).length;
    fast = filter.fast;
  }
  return { fast, ms: best, matched };
}

async function timeCalls(label: string, n: number, call: () => Promise<unknown>): Promise<string> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await call();
  const ms = performance.now() - started;
  return `| ${label} | ${n} | ${ms.toFixed(0)} | ${Math.round((n / ms) * 1000).toLocaleString("en-US")} |`;
}

const coldStart = performance.now();
warmJq();
await (await compileFilter(".n == 0")).matchMany(["{}"]);
const coldMs = performance.now() - coldStart;

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}, ${COUNT} payloads of ${avgBytes.toFixed(0)} B avg`);
console.log(`engine cold start (worker + wasm): ${coldMs.toFixed(0)} ms\n`);
console.log("| filter | path | ms | payloads/s | matched |");
console.log("|---|---|---|---|---|");
for (const program of FILTERS) {
  const { fast, ms, matched } = await timeMatch(program);
  const shown = program.length > 60 ? `${program.slice(0, 57)}...` : program;
  const rate = Math.round((COUNT / ms) * 1000).toLocaleString("en-US");
  console.log(`| \`${shown.replaceAll("|", "\\|")}\` | ${fast ? "fast" : "engine"} | ${ms.toFixed(0)} | ${rate} | ${matched} |`);
}

const existing = payload(1);
const incoming = payload(2);
console.log("\n| batch call | calls | ms | calls/s |");
console.log("|---|---|---|---|");
console.log(await timeCalls("evalWhen", 500, () => evalWhen("(($existing | .tags) + ($new | .tags)) | length <= 10", existing, incoming)));
console.log(await timeCalls("evalFold", 500, () => evalFold("$existing | .tags += ($new | .tags)", existing, incoming)));
await closeJq();
