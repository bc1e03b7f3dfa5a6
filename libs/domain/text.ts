/**
 * A UTF-16 surrogate without its pair: JavaScript strings may hold one, but it is no Unicode text,
 * and PostgreSQL refuses it (in text and in jsonb) with an error that would otherwise be a 500.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** The text with every NUL removed and every lone surrogate replaced by U+FFFD: storable as it is. */
export function storableText(text: string): string {
  return text.replaceAll('\u0000', '').replace(LONE_SURROGATES, '\uFFFD');
}
