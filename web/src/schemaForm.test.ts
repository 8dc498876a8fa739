import { describe, expect, it } from "vitest";
import { fieldsOf, validate, type Schema } from "./schemaForm";

const schema: Schema = {
  type: "object",
  properties: {
    block: { type: "array", items: { type: "string", enum: ["elf", "script"] } },
    limit: { type: "integer", minimum: 1, maximum: 10 },
    label: { type: "string", maxLength: 5 },
    strict: { type: "boolean" },
  },
  required: ["limit"],
  additionalProperties: false,
};

describe("validate", () => {
  it("accepts what fits", () => {
    expect(validate(schema, { block: ["elf"], limit: 3, label: "abc", strict: true })).toEqual([]);
  });
  it("names every problem in words", () => {
    expect(validate(schema, { block: ["exe"], limit: 0, label: "too long", other: 1 })).toEqual([
      'the configuration.block[0] must be one of "elf", "script"',
      "the configuration.limit must be at least 1",
      "the configuration.label must be at most 5 characters",
      "the configuration.other is not a known setting",
    ]);
    expect(validate(schema, {})).toEqual(["the configuration.limit is required"]);
    expect(validate(schema, { limit: 2.5 })).toEqual(["the configuration.limit must be a whole number"]);
    expect(validate(schema, [])).toEqual(["the configuration must be an object"]);
  });
});

describe("fieldsOf", () => {
  it("picks a control per property", () => {
    expect(fieldsOf(schema).map((f) => [f.name, f.kind])).toEqual([
      ["block", "choices"],
      ["limit", "number"],
      ["label", "text"],
      ["strict", "boolean"],
    ]);
  });
});
