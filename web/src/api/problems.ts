// API errors (RFC 9457 problem documents with a stable `code`) as sentences that say what
// happened and what to do. The codes are listed in docs/errors.md.

/** A problem document, as the API sends it. */
export interface Problem {
  code: string;
  status: number;
  title: string;
  detail: string;
  field?: string | null;
  plugin?: string | null;
  retry_after?: number | null;
}

/** An error the app shows: a sentence for people, and the problem it came from. */
export class ApiError extends Error {
  constructor(
    readonly problem: Problem,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get code(): string {
    return this.problem.code;
  }
}

const SENTENCES: Record<string, (p: Problem) => string> = {
  malformed_json: () => "The app sent a request the server could not read. Reload the page and try again.",
  validation_failed: (p) => (p.field ? `${capitalise(fieldName(p.field))}: ${p.detail}.` : `${capitalise(p.detail)}.`),
  invalid_parameter: (p) => `${capitalise(p.detail)}.`,
  unauthenticated: () => "Your session has ended. Log in again.",
  invalid_credentials: () => "The email or the password is wrong. Check both and try again.",
  account_disabled: () => "This account is disabled. Ask an administrator to enable it.",
  forbidden: () => "You may not do that here: you can only view this folder. Ask its owner for editing rights.",
  not_found: () => "It is not there any more: it may have been moved, deleted or unshared. Reload to see what is there now.",
  name_taken: () => "Something with that name is already there. Choose another name, or keep both.",
  revision_mismatch: () => "The file changed since you opened it. Reload it and try again.",
  already_member: () => "That person is already a member of this folder (or invited).",
  already_shared: () => "This folder is already shared.",
  concurrent_change: () => "Someone else changed this at the same moment. Try again.",
  conflict: (p) => `${capitalise(p.detail)}.`,
  operation_not_allowed: (p) => `That is not possible: ${p.detail}.`,
  quota_exceeded: () => "There is not enough room: the storage quota is full. Delete something (and empty the trash), or ask an administrator for more room.",
  storage_full: () => "The server's storage is full, so nothing was stored. Tell an administrator.",
  refused_by_plugin: (p) => `${p.plugin ? `The “${p.plugin}” check` : "A check on the server"} refused this: ${p.detail}.`,
  plugin_failed: (p) => `${p.plugin ? `The “${p.plugin}” check` : "A check on the server"} could not decide, so nothing was changed. Try again later, or tell an administrator.`,
  too_many_requests: (p) => `Too many attempts. Wait ${waitText(p.retry_after)} and try again.`,
  service_unavailable: (p) => `The server cannot do this right now. Try again in ${waitText(p.retry_after)}.`,
  signup_closed: () => "Sign-up is closed on this server. Ask an administrator for an account.",
  invite_required: () => "Sign-up needs an invitation code. Ask an administrator for one.",
  invite_invalid: () => "That invitation code does not work: it may have been used or have expired.",
  email_taken: () => "An account with this email exists already. Log in instead.",
  payload_too_large: () => "That is too large for the server.",
  request_too_large: () => "That is too large for the server.",
  link_gone: () => "This link has expired or was removed. Ask whoever sent it for a new one.",
  link_password_required: () => "This link is protected by a password.",
  invalid_link_password: () => "That password is wrong.",
  download_not_allowed: () => "This link does not allow downloads.",
  csrf_failed: () => "The page's session is out of date. Reload the page and try again.",
  internal_error: () => "Something went wrong on the server. Try again; if it keeps happening, tell an administrator.",
};

/** The sentence for `problem`. */
export function describe(problem: Problem): string {
  const sentence = SENTENCES[problem.code];
  if (sentence) return sentence(problem);
  return problem.detail ? `${capitalise(problem.detail)}.` : problem.title;
}

/** Reads an error answer into an [`ApiError`]; answers that are not problems get a sentence too. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let problem: Problem;
  try {
    const body = (await response.clone().json()) as Partial<Problem>;
    problem = {
      code: typeof body.code === "string" ? body.code : "internal_error",
      status: response.status,
      title: body.title ?? response.statusText,
      detail: body.detail ?? "",
      field: body.field ?? null,
      plugin: body.plugin ?? null,
      retry_after: body.retry_after ?? numberHeader(response, "retry-after"),
    };
  } catch {
    problem = {
      code: response.status >= 500 ? "internal_error" : "unknown",
      status: response.status,
      title: response.statusText || `HTTP ${response.status}`,
      detail: "",
    };
  }
  return new ApiError(problem, describe(problem));
}

/** A thrown value as a sentence. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "The server cannot be reached. Check the connection and try again.";
  if (error instanceof Error) return error.message;
  return String(error);
}

function numberHeader(response: Response, name: string): number | null {
  const value = Number(response.headers.get(name));
  return Number.isFinite(value) && value > 0 ? value : null;
}

function waitText(seconds: number | null | undefined): string {
  if (!seconds || seconds < 1) return "a moment";
  if (seconds < 90) return `${Math.ceil(seconds)} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

function fieldName(field: string): string {
  return field.replace(/_/g, " ");
}

function capitalise(text: string): string {
  return text.length ? text[0]!.toUpperCase() + text.slice(1) : text;
}
