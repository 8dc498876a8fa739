// A plugin's configuration, checked against its JSON Schema in the browser before it is sent:
// the same subset the server enforces (type, properties, required, additionalProperties, items,
// enum, minimum/maximum, minLength/maxLength). The server checks again.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Schema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: Json;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: Schema;
  enum?: Json[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

function typeOf(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function fits(type: string, value: Json): boolean {
  const actual = typeOf(value);
  return type === actual || (type === "number" && actual === "integer");
}

/** What is wrong with `value` under `schema`, one sentence per problem (empty when it fits). */
export function validate(schema: Schema, value: Json, at = "the configuration"): string[] {
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => fits(t, value))) {
      problems.push(`${at} must be ${types.map(article).join(" or ")}`);
      return problems;
    }
  }
  if (schema.enum && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
    problems.push(`${at} must be one of ${schema.enum.map((o) => JSON.stringify(o)).join(", ")}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at} must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at} must be at most ${schema.maximum}`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) problems.push(`${at} must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength) problems.push(`${at} must be at most ${schema.maxLength} characters`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...validate(schema.items!, item, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const name of schema.required ?? []) {
      if (!(name in value)) problems.push(`${at}.${name} is required`);
    }
    for (const [name, item] of Object.entries(value)) {
      const property = schema.properties?.[name];
      if (property) problems.push(...validate(property, item, `${at}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${at}.${name} is not a known setting`);
    }
  }
  return problems;
}

function article(type: string): string {
  return { object: "an object", array: "a list", integer: "a whole number", null: "empty" }[type] ?? `a ${type}`;
}

/** A form field of the generated form: how to show and read one property. */
export type Field =
  | { kind: "boolean"; name: string; schema: Schema }
  | { kind: "number"; name: string; schema: Schema; integer: boolean }
  | { kind: "choice"; name: string; schema: Schema; options: Json[] }
  | { kind: "choices"; name: string; schema: Schema; options: Json[] }
  | { kind: "text"; name: string; schema: Schema }
  | { kind: "json"; name: string; schema: Schema };

/** The fields a form shows for an object schema (anything it cannot show simply is JSON text). */
export function fieldsOf(schema: Schema): Field[] {
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const type = Array.isArray(property.type) ? property.type.find((t) => t !== "null") : property.type;
    if (property.enum) return { kind: "choice", name, schema: property, options: property.enum };
    if (type === "boolean") return { kind: "boolean", name, schema: property };
    if (type === "integer" || type === "number") return { kind: "number", name, schema: property, integer: type === "integer" };
    if (type === "string") return { kind: "text", name, schema: property };
    if (type === "array" && property.items?.enum) return { kind: "choices", name, schema: property, options: property.items.enum };
    return { kind: "json", name, schema: property };
  });
}
