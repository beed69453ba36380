// What every page gets from the shell: the live event stream, the confirmation dialog,
// the message line, and navigation by location hash (#/jobs?status=dead, #/job/<id>).

import { useEffect, useRef } from "preact/hooks";
import type { Live } from "./live.ts";
import type { ConfirmRequest } from "./ui.ts";

export interface Ctx {
  live: Live;
  confirm(req: ConfirmRequest): void;
  notify(message: string, kind?: "ok" | "error"): void;
  navigate(hash: string): void;
  /** True while a dialog is open: pages ignore their keys then. */
  dialogOpen(): boolean;
}

/**
 * Keys for a page, ignored while typing in a field or while a dialog is open. The listener
 * calls the handler of the latest render: a key pressed right after a render is painted,
 * before effects run, must not see the state of the render before (a second `n` would
 * page from the old offset and show the same page again).
 */
export function useKeys(ctx: Ctx, handler: (e: KeyboardEvent) => boolean | void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (ctx.dialogOpen() || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      if (latest.current(e) === true) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

/** Re-run `refresh` when the live stream reports changes, at most once per `minMs`. */
export function useLiveRefresh(ctx: Ctx, refresh: () => void, minMs: number, deps: unknown[], only?: (id?: string) => boolean): void {
  useEffect(() => {
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = ctx.live.on((kind, id) => {
      if (kind !== "change" || (only && !only(id))) return;
      if (timer) return;
      const wait = Math.max(0, last + minMs - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        refresh();
      }, wait);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, deps);
}
