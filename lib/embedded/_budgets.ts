// The budget mutations of the embedded queue, built from the same bodies the Client sends
// and through the same parsers the server's budget routes use (lib/http/routes/budgets.ts),
// so a bad cost or policy is rejected with the server's message and status.

import type { BudgetMutation } from "../queue/budget-jobs.ts";
import { parseBindingBody, parseBindings, parseCostBody } from "../queue/budget-policy.ts";

export type { BudgetMutation };

/** Parses when called: inside the queue's error translation, not at the call site. */
export type BindingBodyParse = () => BudgetMutation;

/** POST (add), PUT (put) or PATCH (cost) of one binding, as the single and bulk routes read them. */
export function bindingMutation(op: "add" | "put" | "cost", key: string, body: unknown): BindingBodyParse {
  if (op === "cost") return () => ({ op, key, cost: parseCostBody(body, key) });
  return () => ({ op, binding: parseBindingBody(body, key) });
}

/** PUT /jobs/{id}/budgets: the whole list. */
export function replaceMutation(budgets: unknown[]): BindingBodyParse {
  return () => ({ op: "replace", bindings: parseBindings(budgets) });
}
