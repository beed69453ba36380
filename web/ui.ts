// Shared bits of the dashboard's views: the htm binding, formatting of times and sizes,
// the confirmation dialog and the message line. Everything renders through Preact, which
// sets text as text: job payloads and error messages can never become markup.

import { h } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

export function bytes(n: number | undefined): string {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n < 10 && u > 0 ? n.toFixed(1) : Math.round(n)} ${units[u]}`;
}

export function duration(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s < 1) return `${Math.round(Math.abs(ms))} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** "in 5m 2s" / "3.1 s ago", with the absolute time as a tooltip. */
export function when(ms: number | undefined) {
  if (ms === undefined || ms === null || ms === 0) return html`<span class="muted">–</span>`;
  const delta = ms - Date.now();
  const text = Math.abs(delta) < 1000 ? "now" : delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
  return html`<time datetime=${new Date(ms).toISOString()} title=${new Date(ms).toISOString()}>${text}</time>`;
}

export const count = (n: number | undefined): string => (n === undefined || n === null ? "–" : n.toLocaleString("en-US"));

export interface ConfirmRequest {
  title: string;
  detail?: string;
  action: string;
  danger?: boolean;
  run: () => Promise<unknown>;
}

/** A modal confirmation: y/Enter confirm, n/Escape cancel (as in `zizq top`). */
export function ConfirmDialog({ req, onDone }: { req: ConfirmRequest; onDone: (error?: string) => void }) {
  const button = useRef<HTMLButtonElement>(null);
  const busy = useRef(false);
  const confirm = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      await req.run();
      onDone();
    } catch (err) {
      onDone((err as Error).message);
    }
  };
  // A layout effect, not useEffect: useEffect runs after the browser paints, so a key
  // pressed as soon as the dialog shows (n, y) went to the page instead of the dialog.
  useLayoutEffect(() => {
    button.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" || e.key === "n") {
        e.preventDefault();
        e.stopPropagation();
        onDone();
      } else if (e.key === "y") {
        e.preventDefault();
        e.stopPropagation();
        void confirm();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [req]);
  return html`<div class="overlay" role="presentation">
    <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title">
      <h2 id="confirm-title">${req.title}</h2>
      ${req.detail ? html`<p>${req.detail}</p>` : null}
      <div class="buttons">
        <button type="button" onClick=${() => onDone()}>Cancel <kbd>n</kbd></button>
        <button type="button" ref=${button} class=${req.danger ? "danger" : "primary"} data-confirm onClick=${confirm}>${req.action} <kbd>y</kbd></button>
      </div>
    </div>
  </div>`;
}
