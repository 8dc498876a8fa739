import { describe, expect, it } from "vitest";
import { ApiError, describe as sentence, errorFrom, messageOf } from "./problems";

function problemResponse(body: object, status: number, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

describe("problems", () => {
  it("turn codes into sentences that say what to do", async () => {
    const error = await errorFrom(
      problemResponse({ code: "quota_exceeded", status: 507, title: "Quota exceeded", detail: "no room" }, 507),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("quota_exceeded");
    expect(error.message).toMatch(/quota is full/);
    expect(error.message).not.toMatch(/\{/);
  });
  it("name the plugin that refused", () => {
    expect(
      sentence({ code: "refused_by_plugin", status: 422, title: "", detail: "infected: EICAR", plugin: "eicar-scanner" }),
    ).toBe("The “eicar-scanner” check refused this: infected: EICAR.");
  });
  it("say how long to wait", async () => {
    const error = await errorFrom(
      problemResponse({ code: "too_many_requests", status: 429, title: "", detail: "" }, 429, { "retry-after": "120" }),
    );
    expect(error.message).toBe("Too many attempts. Wait 2 minutes and try again.");
  });
  it("handle answers that are not problems", async () => {
    const error = await errorFrom(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(error.code).toBe("internal_error");
    expect(messageOf(error)).toMatch(/went wrong/);
  });
  it("fall back to the detail for codes the app does not know", () => {
    expect(sentence({ code: "something_new", status: 400, title: "T", detail: "the reason" })).toBe("The reason.");
  });
});
