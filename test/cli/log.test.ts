// Logger: the three line formats, logging to <dir>/zizq.log, size rotation with a bounded
// file count, and nothing written outside the configured directory.

import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { LogConfig } from "../../lib/cli/config.ts";
import { createLogger, flushLogger } from "../../lib/cli/log.ts";
import { runCli } from "./_run-cli.ts";

const base: LogConfig = { format: "json", level: "info", dir: undefined, rotation: "never", maxFileBytes: 0, maxFiles: 10 };

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(line) } };
}

describe("createLogger formats", () => {
  it("json: one JSON object per line with a level label and ISO time", () => {
    const { lines, stream } = capture();
    const logger = createLogger({ ...base, format: "json" }, { stderr: stream });
    logger.info({ port: 7890 }, "listening");
    logger.debug("hidden below the level");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith("\n") && !lines[0]!.slice(0, -1).includes("\n"));
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(record["level"], "info");
    assert.equal(record["msg"], "listening");
    assert.equal(record["port"], 7890);
    assert.match(String(record["time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("compact: one short line, fields as key=value, errors by message", () => {
    const { lines, stream } = capture();
    const logger = createLogger({ ...base, format: "compact", level: "debug" }, { stderr: stream });
    logger.debug({ queue: "emails", note: "two words" }, "enqueued");
    logger.error({ err: new Error("disk full") }, "write failed");
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z DEBUG enqueued queue=emails note="two words"\n$/);
    assert.match(lines[1]!, /^\S+ ERROR write failed err="disk full"\n$/);
  });

  it("pretty: clock time, padded level, error stack below, colour only when asked", () => {
    const plain = capture();
    createLogger({ ...base, format: "pretty" }, { stderr: plain.stream, color: false }).warn(
      { err: new Error("boom") },
      "tick failed",
    );
    const [first, ...rest] = plain.lines[0]!.split("\n");
    assert.match(first!, /^\d\d:\d\d:\d\d\.\d{3} WARN  tick failed$/);
    assert.match(rest[0]!, /^ {4}Error: boom$/);
    assert.ok(!plain.lines[0]!.includes("\x1b["));

    const coloured = capture();
    createLogger({ ...base, format: "pretty" }, { stderr: coloured.stream, color: true }).info("hi");
    assert.ok(coloured.lines[0]!.includes("\x1b[32mINFO"));
  });
});

describe("createLogger on disk", () => {
  const roots: string[] = [];
  after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));
  const tempRoot = async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "zizq-log-"));
    roots.push(root);
    return root;
  };

  it("writes <dir>/zizq.log, creating the directory, and nothing outside it", async () => {
    const root = await tempRoot();
    const dir = path.join(root, "log");
    const logger = createLogger({ ...base, dir, rotation: "daily", format: "compact" });
    logger.info({ n: 1 }, "first");
    logger.info({ n: 2 }, "second");
    await flushLogger(logger);
    const text = await readFile(path.join(dir, "zizq.log"), "utf8");
    assert.match(text, /INFO first n=1\n.*INFO second n=2\n$/);
    assert.deepEqual(await readdir(root), ["log"]);
  });

  it("a log directory that cannot be written stops the start with one line and exit 2", async () => {
    const root = await tempRoot();
    const file = path.join(root, "afile");
    await writeFile(file, "not a directory");
    assert.throws(() => createLogger({ ...base, dir: file }), { name: "ConfigError", message: new RegExp(`^cannot write the log file in ${file}: `) });
    const r = await runCli(["serve", "--dir", path.join(root, "data"), "--log-dir", file, "--port", "0", "--no-admin"], {});
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^zizq: cannot write the log file in .*afile: /);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });

    it("rotates by size and keeps at most maxFiles old files", async () => {
    const root = await tempRoot();
    const logger = createLogger({ ...base, dir: root, maxFileBytes: 300, maxFiles: 2 });
    for (let i = 0; i < 40; i++) logger.info({ i, padding: "x".repeat(40) }, "line");
    await flushLogger(logger);
    const names = (await readdir(root)).sort();
    const rotated = names.filter((name) => /^zizq\.\d{8}-\d{6}\.\d+\.log$/.test(name));
    assert.ok(names.includes("zizq.log"), names.join(","));
    assert.ok(rotated.length >= 1 && rotated.length <= 2, names.join(","));
    assert.deepEqual(
      names.filter((name) => name !== "zizq.log" && !rotated.includes(name)),
      ["zizq.log.history"],
    );
    // The newest lines are in the live file.
    assert.match(await readFile(path.join(root, "zizq.log"), "utf8"), /"i":39/);
  });
});
