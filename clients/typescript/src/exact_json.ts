/**
 * JSON.parse without floats: every number comes back as a JsonNumber holding its source
 * text, so a decimal amount is read exactly (Node 20's JSON.parse has no source-text access
 * in its reviver). A small recursive-descent parser of RFC 8259 JSON.
 */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WHITESPACE = /[ \t\n\r]*/y;

export function parseExactJson(text: string): JsonValue {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${at} of the JSON text`);
  };
  const skip = (): void => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  };
  const token = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) return undefined;
    at = pattern.lastIndex;
    return match[0];
  };
  const literal = (word: string): boolean => {
    if (!text.startsWith(word, at)) return false;
    at += word.length;
    return true;
  };
  const value = (): JsonValue => {
    skip();
    const char = text[at];
    if (char === "{") return object();
    if (char === "[") return array();
    if (char === '"') return string();
    if (literal("true")) return true;
    if (literal("false")) return false;
    if (literal("null")) return null;
    const number = token(NUMBER);
    if (number === undefined) return fail("unexpected character");
    return new JsonNumber(number);
  };
  // The standard parser decodes a string's escapes (the regexp has checked it is valid).
  const string = (): string => JSON.parse(token(STRING) ?? fail("bad string")) as string;
  const object = (): { [key: string]: JsonValue } => {
    at += 1;
    const result: { [key: string]: JsonValue } = {};
    skip();
    if (literal("}")) return result;
    for (;;) {
      skip();
      const key = string();
      skip();
      if (!literal(":")) fail("expected ':'");
      // defineProperty: a "__proto__" key is data, never the prototype.
      Object.defineProperty(result, key, { value: value(), enumerable: true, writable: true, configurable: true });
      skip();
      if (literal("}")) return result;
      if (!literal(",")) fail("expected ',' or '}'");
    }
  };
  const array = (): JsonValue[] => {
    at += 1;
    const result: JsonValue[] = [];
    skip();
    if (literal("]")) return result;
    for (;;) {
      result.push(value());
      skip();
      if (literal("]")) return result;
      if (!literal(",")) fail("expected ',' or ']'");
    }
  };
  const result = value();
  skip();
  if (at !== text.length) fail("unexpected text after the value");
  return result;
}
