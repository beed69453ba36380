// The h3 hot-path decision data: POST /jobs under the W1 loads against a bare Node
// handler, Zizq as shipped (every route through h3), and Zizq with the hot write routes
// served by a plain Node handler in front of h3 (ZIZQ_EXPERIMENT_RAW_HOT_ROUTES=1, see
// lib/http/_raw-hot-routes.ts). Rounds alternate between the three servers so host
// noise hits them alike; the table gives medians.
// Run: node --import tsx bench/h3-experiment.ts [--rounds 5] [--seconds 5]

import { type BenchOptions, hasCommand, median, startZizq } from "./_lib.ts";
import { type LoadResult, h2loadPost, startBare, wrkPost } from "./_loadgen.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const rounds = arg("rounds", 5);
const seconds = arg("seconds", 5);
if (!hasCommand("wrk") || !hasCommand("h2load")) throw new Error("needs wrk and h2load (apt-get install -y wrk nghttp2-client)");

const opts: BenchOptions = { quick: false, h2Client: "h2load" };
const servers = [
  { name: "bare node:http / node:http2" },
  { name: "zizq, all routes via h3" },
  { name: "zizq, hot routes raw (experiment)" },
];

const h1: LoadResult[][] = servers.map(() => []);
const h2: LoadResult[][] = servers.map(() => []);
const bare1 = await startBare();
const bare2 = await startBare(true);
const zizq = [await startZizq("h3-exp-h3", opts, [], {}), await startZizq("h3-exp-raw", opts, [], { ZIZQ_EXPERIMENT_RAW_HOT_ROUTES: "1" })];
const urls = [[bare1.url, bare2.url], [zizq[0].url, zizq[0].url], [zizq[1].url, zizq[1].url]];
try {
  for (const [u1, u2] of urls) { // warm-up
    await wrkPost(`${u1}/jobs`, 2);
    await h2loadPost(`${u2}/jobs`, 20_000);
  }
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < servers.length; s++) {
      h1[s].push(await wrkPost(`${urls[s][0]}/jobs`, seconds));
      h2[s].push(await h2loadPost(`${urls[s][1]}/jobs`, 25_000 * seconds));
    }
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
  }
} finally {
  await bare1.stop();
  await bare2.stop();
  for (const z of zizq) await z.stop();
}
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
console.log(`${rounds} alternating rounds; HTTP/1.1: wrk -t1 -c16 ${seconds}s; h2c: h2load -c1 -m64 ${25_000 * seconds} req\n`);
console.log("| server | h1 req/s (median) | h1 % of bare | h1 p99 ms | h2c req/s (median) | h2c % of bare | h2c p99 ms | failures |");
console.log("|---|---|---|---|---|---|---|---|");
const b1 = median(h1[0].map((x) => x.opsPerSec));
const b2 = median(h2[0].map((x) => x.opsPerSec));
servers.forEach((s, i) => {
  const r1 = median(h1[i].map((x) => x.opsPerSec));
  const r2 = median(h2[i].map((x) => x.opsPerSec));
  const fails = [...h1[i], ...h2[i]].reduce((n, x) => n + x.failures, 0);
  console.log(`| ${s.name} | ${fmt(r1)} | ${((r1 / b1) * 100).toFixed(0)}% | ${median(h1[i].map((x) => x.p99Ms)).toFixed(2)} | ${fmt(r2)} | ${((r2 / b2) * 100).toFixed(0)}% | ${median(h2[i].map((x) => x.p99Ms)).toFixed(2)} | ${fails} |`);
});
console.log(`\nper round h1: ${servers.map((s, i) => `${s.name}: ${h1[i].map((x) => fmt(x.opsPerSec)).join(", ")}`).join("; ")}`);
