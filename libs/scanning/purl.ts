/**
 * Package URLs (purl-spec): `pkg:type/namespace/name@version?qualifiers`, each part
 * percent-encoded, qualifiers sorted by key so equal packages always print the same.
 */
export function purl(
  type: string,
  namespace: string | null,
  name: string,
  version: string | null,
  qualifiers: Record<string, string | null | undefined> = {},
): string {
  let out = `pkg:${type}/`;
  if (namespace) out += namespace.split('/').map(encode).join('/') + '/';
  out += encode(name);
  if (version) out += '@' + encode(version);
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${encode(v)}`);
  return q.length > 0 ? `${out}?${q.join('&')}` : out;
}

function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
