// Crons: every group with its entries, next and last run, and pause/resume for a group
// or an entry (PATCH with {paused}, after a confirmation).

import { useEffect, useState } from "preact/hooks";
import { type Json, api } from "./api.ts";
import type { Ctx } from "./context.ts";
import { html, when } from "./ui.ts";

export function Crons({ ctx }: { ctx: Ctx }) {
  const [groups, setGroups] = useState<Json[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const load = async () => {
    try {
      const names = (await api("GET", "/crons")).crons as string[];
      setGroups(await Promise.all(names.map((n) => api("GET", `/crons/${encodeURIComponent(n)}`))));
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  const toggle = (group: Json, entry?: Json) => {
    const target = entry ?? group;
    const path = `/crons/${encodeURIComponent(group.name)}${entry ? `/entries/${encodeURIComponent(entry.name)}` : ""}`;
    const what = entry ? `entry ${group.name}/${entry.name}` : `group ${group.name}`;
    ctx.confirm({
      title: `${target.paused ? "Resume" : "Pause"} cron ${what}?`,
      detail: target.paused ? "It enqueues again at its next occurrence (no catch-up)." : "Its schedule keeps advancing but nothing is enqueued while paused.",
      action: target.paused ? "Resume" : "Pause",
      run: async () => { await api("PATCH", path, { paused: !target.paused }); ctx.notify(`cron ${what} ${target.paused ? "resumed" : "paused"}`); await load(); },
    });
  };
  return html`<section class="page crons">
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${groups && groups.length === 0 ? html`<p class="muted">No cron groups.</p>` : null}
    ${(groups ?? []).map((g) => html`<div class="panel" data-group=${g.name}>
      <div class="toolbar">
        <h2>${g.name}</h2>
        ${g.paused ? html`<span class="badge paused">paused</span>` : html`<span class="badge running">running</span>`}
        <span class="spacer"></span>
        <button type="button" data-action="pause-group" onClick=${() => toggle(g)}>${g.paused ? "Resume group" : "Pause group"}</button>
      </div>
      <table>
        <thead><tr><th>Entry</th><th>Expression</th><th>Job</th><th>State</th><th>Next run</th><th>Last run</th><th></th></tr></thead>
        <tbody>
          ${g.entries.map((e: Json) => html`<tr data-entry=${e.name}>
            <td>${e.name}</td>
            <td class="mono">${e.expression}${e.timezone ? ` (${e.timezone})` : ""}</td>
            <td>${e.job.type} → ${e.job.queue}</td>
            <td>${e.paused ? html`<span class="badge paused">paused</span>` : html`<span class="badge running">running</span>`}</td>
            <td>${when(e.next_enqueue_at)}</td>
            <td>${when(e.last_enqueue_at)}</td>
            <td><button type="button" class="small" data-action="pause-entry" onClick=${() => toggle(g, e)}>${e.paused ? "Resume" : "Pause"}</button></td>
          </tr>`)}
        </tbody>
      </table>
    </div>`)}
  </section>`;
}
