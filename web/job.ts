// Job detail: every field of GET /jobs/{id} (budgets and other extension fields too,
// whatever the server sends), the payload as pretty JSON, and the error history with
// backtraces. Everything is rendered as text. Delete and retry ask first.

import { useEffect, useState } from "preact/hooks";
import { type Json, api } from "./api.ts";
import { type Ctx, useKeys, useLiveRefresh } from "./context.ts";
import { html, when } from "./ui.ts";

const TIME_FIELDS = new Set(["ready_at", "dequeued_at", "failed_at", "purge_at", "completed_at", "paused_at", "resumed_at"]);

function value(key: string, v: unknown) {
  if (TIME_FIELDS.has(key) && typeof v === "number") return html`<span class="mono">${v}</span> ${when(v)}`;
  if (v !== null && typeof v === "object") return html`<code>${JSON.stringify(v)}</code>`;
  return html`<span class="mono">${String(v)}</span>`;
}

export function JobDetail({ ctx, id }: { ctx: Ctx; id: string }) {
  const [job, setJob] = useState<Json>(undefined);
  const [errors, setErrors] = useState<Json[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  // The id comes from the location hash (decoded): encoded again, it can only name a job
  // (`#/job/..%2Fjobs` used to fetch the job list).
  const path = `/jobs/${encodeURIComponent(id)}`;
  const load = async () => {
    try {
      const [j, e] = await Promise.all([api("GET", path), api("GET", `${path}/errors?order=desc&limit=2000`)]);
      setJob(j);
      setErrors(e.errors);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => { void load(); }, [id]);
  // The stream names the job on completion/failure; list moves refresh it too (cheap: one GET).
  useLiveRefresh(ctx, () => void load(), 500, [id]);

  const canRetry = job && (job.status === "dead" || job.status === "completed");
  const remove = () => ctx.confirm({
    title: `Delete job ${id}?`, detail: "This cannot be undone.", action: "Delete", danger: true,
    run: async () => { await api("DELETE", path); ctx.notify(`deleted ${id}`); history.back(); },
  });
  const retry = () => ctx.confirm({
    title: `Retry job ${id}?`, detail: "It goes back to ready with attempts reset to 0; its error history is kept.", action: "Retry",
    run: async () => { await api("POST", `${path}/retry`); ctx.notify(`retried ${id}`); await load(); },
  });
  useKeys(ctx, (e) => {
    if (e.key === "d" && job) remove();
    else if (e.key === "r" && canRetry) retry();
    else if (e.key === "Escape" || e.key === "Backspace") history.back();
    else return false;
    return true;
  });

  if (error && !job) return html`<section class="page"><p class="error" role="alert">${error}</p><a href="#/jobs">Back to jobs</a></section>`;
  if (!job) return html`<section class="page"><p class="muted">Loading…</p></section>`;
  const { payload, ...fields } = job;
  return html`<section class="page job-detail">
    <div class="toolbar">
      <h1 class="mono" data-job-id>${job.id}</h1>
      <span class=${`badge status-${job.status}`} data-job-status>${job.status}</span>
      <span class="spacer"></span>
      ${canRetry ? html`<button type="button" data-action="retry" onClick=${retry}>Retry <kbd>r</kbd></button>` : null}
      <button type="button" class="danger" data-action="delete" onClick=${remove}>Delete <kbd>d</kbd></button>
    </div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <div class="grid2">
      <div class="panel">
        <h2>Fields</h2>
        <table class="fields"><tbody>
          ${Object.entries(fields).map(([k, v]) => html`<tr data-field=${k}><th>${k}</th><td>${value(k, v)}</td></tr>`)}
        </tbody></table>
      </div>
      <div class="panel">
        <h2>Payload</h2>
        <pre class="payload" data-payload>${JSON.stringify(payload, null, 2)}</pre>
      </div>
    </div>
    <div class="panel">
      <h2>Errors <span class="muted">${errors.length} attempt${errors.length === 1 ? "" : "s"} failed, newest first</span></h2>
      ${errors.length === 0 ? html`<p class="muted">No failures.</p>` : null}
      ${errors.map((e) => html`<article class="error-record" data-attempt=${e.attempt}>
        <header><strong>Attempt ${e.attempt}</strong> ${e.error_type ? html`<code>${e.error_type}</code>` : null} <span class="muted">failed ${when(e.failed_at)}, taken ${when(e.dequeued_at)}</span></header>
        <p class="message">${e.message}</p>
        ${e.backtrace ? html`<pre class="backtrace">${e.backtrace}</pre>` : null}
      </article>`)}
    </div>
    <p class="muted keys">Keys: d delete · r retry · Esc back</p>
  </section>`;
}
