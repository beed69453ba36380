// High-level cron handles (CLIENT-API.md §7.4): `client.cron(name)` and `.entry(name)`.
// Definitions are flat (type, payload, queue…) and go through the same enqueue resolution
// as `client.enqueue`, so job functions and their zizqOptions apply to cron templates too.

import type { Client } from "./client.ts";
import { resolveEnqueue } from "./resolve.ts";
import type { CronEntry, CronGroup } from "./resources.ts";
import type { CronEntryDefinition, CronEntryInput, RegisterCronOptions } from "./types.ts";

function toEntryInput(def: CronEntryDefinition): CronEntryInput {
  const { name, expression, timezone, paused, ...input } = def;
  const job = resolveEnqueue(input);
  if (job.readyAt) throw new Error("readyAt is not supported for cron entries");
  const entry: CronEntryInput = { name, expression, job };
  if (timezone !== undefined) entry.timezone = timezone;
  if (paused !== undefined) entry.paused = paused;
  return entry;
}

export class CronEntryHandle {
  constructor(private readonly client: Client, private readonly group: string, readonly name: string) {}

  get(): Promise<CronEntry> { return this.client.getCronEntry(this.group, this.name); }
  pause(): Promise<CronEntry> { return this.client.updateCronEntry(this.group, this.name, { paused: true }); }
  resume(): Promise<CronEntry> { return this.client.updateCronEntry(this.group, this.name, { paused: false }); }
  delete(): Promise<void> { return this.client.deleteCronEntry(this.group, this.name); }

  /** PUT of this one entry; no group timezone applies here. */
  async register(def: Omit<CronEntryDefinition, "name">): Promise<CronEntry> {
    const { name: _, ...input } = toEntryInput({ ...def, name: this.name });
    return this.client.replaceCronEntry(this.group, this.name, input);
  }
}

export class CronHandle {
  constructor(private readonly client: Client, readonly name: string) {}

  get(): Promise<CronGroup> { return this.client.getCronGroup(this.name); }
  pause(): Promise<CronGroup> { return this.client.updateCronGroup(this.name, { paused: true }); }
  resume(): Promise<CronGroup> { return this.client.updateCronGroup(this.name, { paused: false }); }
  delete(): Promise<void> { return this.client.deleteCronGroup(this.name); }
  entry(entryName: string): CronEntryHandle { return new CronEntryHandle(this.client, this.name, entryName); }

  /**
   * Replaces the whole group. As in the official client, `timezone` is copied into each
   * entry that has none and is not sent as the group timezone (quirk 6).
   */
  async register(options: RegisterCronOptions): Promise<CronGroup> {
    const entries = options.entries.map((e) => toEntryInput({ ...e, timezone: e.timezone ?? options.timezone }));
    return this.client.replaceCronGroup(this.name, { paused: options.paused, entries });
  }
}
