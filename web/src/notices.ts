// Messages shown at the bottom of the screen: errors as sentences, and confirmations.

import { messageOf } from "./api/problems";
import { store } from "./store";

export interface Notice {
  id: number;
  text: string;
  kind: "error" | "info";
}

export const notices = store<Notice[]>([]);
let nextId = 1;

export function notify(text: string, kind: Notice["kind"] = "info"): void {
  const id = nextId++;
  notices.set([...notices.get(), { id, text, kind }]);
  setTimeout(() => dismiss(id), kind === "error" ? 12000 : 4000);
}

export function notifyError(error: unknown): void {
  notify(messageOf(error), "error");
}

export function dismiss(id: number): void {
  notices.set(notices.get().filter((n) => n.id !== id));
}
