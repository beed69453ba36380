// Jobs: the in-flight, ready, scheduled, completed and dead lists. Without filters the
// first three are live windows of the admin event stream in list order (paging by
// offset, as `zizq top`); completed, dead and any filtered view use GET /jobs with
// cursors (id order), so every page costs the same at 1M jobs. Bulk delete and retry act
// on exactly the filters shown, after a confirmation that states the count.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Json, api, query } from "./api.ts";
import { type Ctx, useKeys, useLiveRefresh } from "./context.ts";
import { LIVE_LISTS, type ListName } from "./live.ts";
import { count, html, when } from "./ui.ts";

export const TABS = ["in_flight", "ready", "scheduled", "completed", "dead", "all"] as const;
const TITLES: Record<string, string> = { in_flight: "In flight", ready: "Ready", scheduled: "Scheduled", completed: "Completed", dead: "Dead", all: "All" };
const FILTERS = ["queue", "type", "id", "priority", "ready_at", "attempts", "filter"] as const;
const PAGE = 50;

interface Row {
  id: string;
  queue: string;
  type: string;
  priority: number;
  status: string;
  ready_at: number;
  attempts: number;
  dequeued_at?: number;
  failed_at?: number;
  completed_at?: number;
}

const fromAdmin = (status: string) => (j: Json): Row => ({ ...j, type: j.job_type, status });

export function Jobs({ ctx, params }: { ctx: Ctx; params: URLSearchParams }) {
  const status = (params.get("status") ?? "ready") as (typeof TABS)[number];
  const filters: Record<string, string> = {};
  for (const f of FILTERS) if (params.get(f)) filters[f] = params.get(f)!;
  const filtered = Object.keys(filters).length > 0;
  const live = (LIVE_LISTS as readonly string[]).includes(status) && !filtered;
  const statusParam = status === "all" ? undefined : status;
  const order = params.get("order") ?? (status === "completed" || status === "dead" ? "desc" : "asc");
  const selector = query({ status: statusParam, ...filters });
  const key = `${status}|${selector}|${order}`;

  const [rows, setRows] = useState<Row[]>([]);
  const [total, setTotal] = useState<number | undefined>(undefined);
  const [offset, setOffset] = useState(0);
  const [pages, setPages] = useState<{ next: string | null; prev: string | null; self: string } | undefined>(undefined);
  const [link, setLink] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState(0);
  const [, setTick] = useState(0);

  // Live mode: follow the event stream's window for this list.
  useEffect(() => {
    if (!live) return;
    loads.current++;
    ctx.live.subscribe(status as ListName, 0, PAGE);
    setOffset(0);
    const show = () => {
      const w = ctx.live.windows[status as ListName];
      setRows(w.items.map(fromAdmin(status)));
      setTotal(w.total);
      setOffset(w.first_position);
      setTick((t) => t + 1);
    };
    show();
    const off = ctx.live.on((kind) => { if (kind === "windows") show(); });
    return () => {
      off();
      ctx.live.subscribe(status as ListName, 0, 0);
    };
  }, [key]);

  // Query mode: one page of GET /jobs and the count of everything matching.
  // Only the newest load may show: an older one (another tab's, a live refresh that
  // was already running) can answer after it.
  const loads = useRef(0);
  const load = async (path?: string) => {
    const first = `/jobs${query({ status: statusParam, ...filters, order, limit: PAGE })}`;
    const target = path ?? link ?? first;
    const seq = ++loads.current;
    setLoading(true);
    try {
      const [page, n] = await Promise.all([
        api("GET", target),
        api("GET", `/jobs/count${selector}`).then((r) => r.count as number, () => undefined),
      ]);
      if (seq !== loads.current) return;
      // A prev link answers in reversed order (API.md §2.3); show pages in one order.
      const reversed = new URL(target, location.origin).searchParams.get("order") !== order;
      const jobs = (page.jobs as Json[]).map((j) => ({ ...j }) as Row);
      setRows(reversed ? jobs.reverse() : jobs);
      setPages(reversed ? { next: page.pages.prev, prev: page.pages.next, self: page.pages.self } : page.pages);
      setTotal(n);
      setError(undefined);
    } catch (err) {
      if (seq !== loads.current) return;
      setError((err as Error).message);
      setRows([]);
      setTotal(undefined);
    } finally {
      if (seq === loads.current) setLoading(false);
    }
  };
  useEffect(() => {
    if (live) return;
    setLink(undefined);
    void load(`/jobs${query({ status: statusParam, ...filters, order, limit: PAGE })}`);
  }, [key]);
  // jq filters cost a pass over the jobs: refresh those only when asked.
  useLiveRefresh(ctx, () => { if (!live && !filters.filter) void load(); }, 1000, [key, link]);

  const go = (path: string | null | undefined) => {
    if (!path) return;
    setLink(path);
    setSelected(0);
    void load(path);
  };
  const pageBy = (delta: number) => {
    if (live) {
      // From the offset last asked for, not the one shown: `n n` pages twice even when
      // the second press comes before the first page arrives.
      const from = ctx.live.subscription(status as ListName).offset;
      const next = Math.max(0, Math.min(from + delta * PAGE, Math.max(0, (total ?? 0) - PAGE)));
      ctx.live.subscribe(status as ListName, next, PAGE);
      setSelected(0);
    } else go(delta > 0 ? pages?.next : pages?.prev);
  };

  const setTab = (tab: string) => ctx.navigate(`#/jobs${query({ ...filters, status: tab })}`);
  const deleteOne = (row: Row) => ctx.confirm({
    title: `Delete job ${row.id}?`, detail: `${row.type} on ${row.queue}, ${row.status}. This cannot be undone.`, action: "Delete", danger: true,
    run: async () => { await api("DELETE", `/jobs/${encodeURIComponent(row.id)}`); ctx.notify(`deleted ${row.id}`); if (!live) await load(); },
  });
  const retryOne = (row: Row) => ctx.confirm({
    title: `Retry job ${row.id}?`, detail: "It goes back to ready with attempts reset to 0; its error history is kept.", action: "Retry",
    run: async () => { await api("POST", `/jobs/${encodeURIComponent(row.id)}/retry`); ctx.notify(`retried ${row.id}`); await load(); },
  });
  const deleteMatching = async () => {
    const n = (await api("GET", `/jobs/count${selector}`)).count as number;
    ctx.confirm({
      title: `Delete ${count(n)} job${n === 1 ? "" : "s"}?`, detail: `Everything matching ${selector || "(no filter: every job)"}. This cannot be undone.`,
      action: `Delete ${count(n)}`, danger: true,
      run: async () => { const r = await api("DELETE", `/jobs${selector}`); ctx.notify(`deleted ${count(r.deleted)} jobs`); if (!live) await load(); },
    });
  };
  const retryMatching = async () => {
    const n = (await api("GET", `/jobs/count${selector}`)).count as number;
    ctx.confirm({
      title: `Retry ${count(n)} ${status} job${n === 1 ? "" : "s"}?`, detail: `Everything matching ${selector}. They go back to ready.`,
      action: `Retry ${count(n)}`,
      run: async () => { const r = await api("POST", `/jobs/retry${selector}`); ctx.notify(`retried ${count(r.retried)} jobs`); await load(); },
    });
  };

  useKeys(ctx, (e) => {
    const row = rows[selected];
    if (e.key === "Tab") setTab(TABS[(TABS.indexOf(status) + (e.shiftKey ? TABS.length - 1 : 1)) % TABS.length]);
    else if (e.key >= "1" && e.key <= "6") setTab(TABS[Number(e.key) - 1]);
    else if (e.key === "j" || e.key === "ArrowDown") setSelected((s) => Math.min(s + 1, rows.length - 1));
    else if (e.key === "k" || e.key === "ArrowUp") setSelected((s) => Math.max(s - 1, 0));
    else if ((e.key === "Enter" || e.key === "i") && row) ctx.navigate(`#/job/${row.id}`);
    else if (e.key === "d" && row) deleteOne(row);
    else if (e.key === "r" && row && (row.status === "dead" || row.status === "completed")) retryOne(row);
    else if (e.key === "n" || e.key === "PageDown") pageBy(1);
    else if (e.key === "N" || e.key === "PageUp") pageBy(-1);
    else if (e.key === "/") document.querySelector<HTMLInputElement>("#f-filter")?.focus();
    else return false;
    return true;
  });

  const onSubmit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const next: Record<string, string> = { status };
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? "").trim();
      if (v) next[f] = v;
    }
    ctx.navigate(`#/jobs${query(next)}`);
  };
  const columns = useMemo(() => (status === "in_flight" ? "taken" : status === "completed" ? "completed" : status === "dead" ? "failed" : "ready at"), [status]);
  const timeOf = (r: Row) => (status === "in_flight" ? r.dequeued_at : status === "completed" ? r.completed_at : status === "dead" ? r.failed_at : r.ready_at);
  const first = live ? offset + 1 : undefined;

  // The filter inputs take defaultValue, not value: Preact puts a `value` back on every
  // render, so a live update wiped what the user was typing. A new filter set re-keys
  // the form (`key`), which shows the new values.
  return html`<section class="page jobs">
    <nav class="tabs" role="tablist">
      ${TABS.map((t, i) => html`<a role="tab" href=${`#/jobs${query({ ...filters, status: t })}`} aria-selected=${t === status} class=${t === status ? "tab active" : "tab"} data-tab=${t}><kbd>${i + 1}</kbd> ${TITLES[t]}</a>`)}
    </nav>
    <form class="filters" onSubmit=${onSubmit} key=${key}>
      <label>Queue <input name="queue" defaultValue=${filters.queue ?? ""} placeholder="a,b" /></label>
      <label>Type <input name="type" defaultValue=${filters.type ?? ""} /></label>
      <label>Id <input name="id" defaultValue=${filters.id ?? ""} /></label>
      <label>Priority <input name="priority" defaultValue=${filters.priority ?? ""} placeholder="0..100" size="8" /></label>
      <label>Attempts <input name="attempts" defaultValue=${filters.attempts ?? ""} placeholder="1.." size="6" /></label>
      <label>Ready at <input name="ready_at" defaultValue=${filters.ready_at ?? ""} placeholder="ms..ms" size="12" /></label>
      <label class="jq">jq <input id="f-filter" name="filter" defaultValue=${filters.filter ?? ""} placeholder=${".user.plan == \"pro\""} spellcheck="false" /></label>
      <button type="submit" class="primary">Apply</button>
      ${filtered ? html`<a class="button" href=${`#/jobs?status=${status}`}>Clear</a>` : null}
    </form>
    ${error ? html`<p class="error" role="alert" data-error="query">${error}</p>` : null}
    <div class="toolbar">
      <span data-total-count>${live ? `${count(total)} ${TITLES[status].toLowerCase()} · live` : `${count(total)} matching${loading ? " · loading" : ""}`}</span>
      <span class="muted">${live && rows.length ? `${count(first)}–${count(offset + rows.length)}` : ""}</span>
      <span class="spacer"></span>
      <button type="button" onClick=${() => pageBy(-1)} disabled=${live ? offset === 0 : !pages?.prev}>‹ Prev <kbd>N</kbd></button>
      <button type="button" onClick=${() => pageBy(1)} disabled=${live ? offset + rows.length >= (total ?? 0) : !pages?.next}>Next › <kbd>n</kbd></button>
      ${status === "dead" || status === "completed" ? html`<button type="button" data-action="retry-matching" onClick=${retryMatching}>Retry matching…</button>` : null}
      <button type="button" class="danger" data-action="delete-matching" onClick=${deleteMatching}>Delete matching…</button>
    </div>
    <table class="jobs-table">
      <thead><tr><th>Id</th><th>Queue</th><th>Type</th><th class="num">Priority</th><th class="num">Attempts</th><th>${columns}</th><th></th></tr></thead>
      <tbody>
        ${rows.length === 0 ? html`<tr><td colspan="7" class="muted">${loading ? "Loading…" : "No jobs."}</td></tr>` : null}
        ${rows.map((r, i) => html`<tr key=${r.id} class=${i === selected ? "selected" : ""} data-id=${r.id} onClick=${() => setSelected(i)} onDblClick=${() => ctx.navigate(`#/job/${r.id}`)}>
          <td class="mono"><a href=${`#/job/${r.id}`}>${r.id}</a></td>
          <td>${r.queue}</td><td>${r.type}</td><td class="num">${r.priority}</td><td class="num">${r.attempts}</td>
          <td>${when(timeOf(r))}</td>
          <td class="row-actions">
            ${r.status === "dead" || r.status === "completed" ? html`<button type="button" class="small" data-action="retry" onClick=${() => retryOne(r)}>Retry</button>` : null}
            <button type="button" class="small danger" data-action="delete" onClick=${() => deleteOne(r)}>Delete</button>
          </td>
        </tr>`)}
      </tbody>
    </table>
    <p class="muted keys">Keys: 1–6 or Tab lists · j/k move · Enter open · d delete · r retry · n/N page · / jq filter</p>
  </section>`;
}
