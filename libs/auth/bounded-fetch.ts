import { ServiceError } from '#libs/domain/index.js';
import { secureUrlProblem } from '#libs/config/index.js';

const MAX_BYTES = 512 * 1024;
const TIMEOUT_MS = 5_000;

/**
 * GETs a JSON document from an identity provider: https only (plain http on loopback), no
 * redirects, at most 512 KiB, 5 s. Discovery documents and key sets are small; anything else is
 * refused rather than read.
 */
export async function fetchIdentityJson(url: string, what: string): Promise<unknown> {
  const problem = secureUrlProblem(url);
  if (problem) throw new ServiceError('bad_gateway', `${what} ${url}: ${problem}`);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new ServiceError('bad_gateway', `${what} ${url} is unreachable: ${(err as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new ServiceError('bad_gateway', `${what} ${url} answered ${res.status}`);
  }
  const reader = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BYTES) {
        await reader.cancel().catch(() => undefined);
        throw new ServiceError('bad_gateway', `${what} ${url} is larger than ${MAX_BYTES} bytes`);
      }
      chunks.push(value);
    }
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ServiceError('bad_gateway', `${what} ${url} is not JSON`);
  }
}
