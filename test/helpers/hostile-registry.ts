import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { MT, sha256, tarOf } from './images.js';

// A registry that attacks its client, and the "other" server it points the client at (storage,
// a token realm, a metadata service). Both speak the distribution API's wire format and record
// what reached them, so a test can assert that no credential left and no foreign body came back.

/** What the foreign server answers with when it refuses: it must never reach an API caller or a gate summary. */
export const FOREIGN_BODY = 'FOREIGN-BODY-5c1e: internal storage says hello; this text must never be reflected';

export interface Seen {
  method: string;
  path: string;
  authorization: string | null;
}

export type ForeignAnswer =
  /** 403 with FOREIGN_BODY. */
  | 'forbidden'
  /** 200 `{"token": "granted"}`: a token service. */
  | 'token'
  /** 200 and a JSON body that never ends. */
  | 'endless'
  /** 200 and one byte a second. */
  | 'trickle'
  /** 200 and the bytes of whatever blob digest the path names (a storage host). */
  | 'blob';

export interface ForeignServer {
  url: string;
  host: string;
  seen: Seen[];
  answer: ForeignAnswer;
  stop(): Promise<void>;
}

/** A bearer token the hostile registry accepts; the foreign token service issues it. */
export const GRANTED = 'granted';

export interface HostileImage {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  blobs: Map<string, Buffer>;
  config: { digest: string; size: number };
  layer: { digest: string; size: number };
}

/** How the registry treats one repository. */
export interface RepositoryMode {
  /** Location answered to blob GETs (307). */
  blobRedirect?: string;
  /** Location answered to manifest GETs (307). */
  manifestRedirect?: string;
  /** `Bearer realm=…` challenge for requests without `Bearer granted`. */
  realm?: string;
  /** Manifest and blob GETs send their bytes one every `intervalMs` (HEAD answers at once). */
  trickle?: { intervalMs: number };
  /** The image this repository serves (default: the registry's `image`). */
  image?: HostileImage;
}

export interface HostileRegistry {
  url: string;
  host: string;
  image: HostileImage;
  seen: (Seen & { repository: string | null })[];
  /** Modes by repository (`dev/app`); a repository not named here behaves. */
  modes: Record<string, RepositoryMode>;
  /** Trickled answers under way (a client that gave up closes its connection). */
  trickling(): number;
  /** Trickled answers started so far. */
  trickled(): number;
  stop(): Promise<void>;
}

export interface HostileRegistryOptions {
  /** Basic credentials required on every /v2/ request (before any bearer challenge); none when absent. */
  basic?: { username: string; password: string };
}

/** A small image: one layer holding /etc/os-release, a config with a non-root user; `label` makes its digest its own. */
export function hostileImage(label = 'hostile'): HostileImage {
  const tar = tarOf([
    { name: 'etc/os-release', data: Buffer.from(`ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (${label})"\n`) },
  ]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '1000' }, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MT.ociLayerGzip, digest: sha256(layer), size: layer.length }],
    }),
  );
  return {
    digest: sha256(manifest),
    mediaType: MT.ociManifest,
    bytes: manifest,
    blobs: new Map([
      [sha256(config), config],
      [sha256(layer), layer],
    ]),
    config: { digest: sha256(config), size: config.length },
    layer: { digest: sha256(layer), size: layer.length },
  };
}

async function listen(server: Server): Promise<{ url: string; host: string; stop: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function trickle(res: ServerResponse, body: Buffer, intervalMs: number, onEnd: () => void): void {
  let at = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return;
    res.write(body.subarray(at, at + 1));
    at++;
    if (at >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, intervalMs);
  res.on('close', () => {
    clearInterval(timer);
    onEnd();
  });
}

/** The server a hostile registry points its client at. `blobs` serves the `blob` answer. */
export async function startForeignServer(answer: ForeignAnswer, blobs: Map<string, Buffer> = new Map()): Promise<ForeignServer> {
  const seen: Seen[] = [];
  const state = { answer };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    seen.push({ method: req.method ?? 'GET', path: req.url ?? '/', authorization: req.headers.authorization ?? null });
    switch (state.answer) {
      case 'forbidden':
        res.writeHead(403, { 'content-type': 'text/plain' }).end(FOREIGN_BODY);
        return;
      case 'token':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: GRANTED, expires_in: 300 }));
        return;
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"token":"');
        const chunk = Buffer.alloc(64 * 1024, 'a');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case 'trickle':
        res.writeHead(200, { 'content-type': 'application/json' });
        trickle(res, Buffer.from(JSON.stringify({ token: GRANTED, expires_in: 300 })), 1000, () => undefined);
        return;
      case 'blob': {
        const digest = /sha256:[0-9a-f]{64}/.exec(req.url ?? '')?.[0];
        const bytes = digest ? blobs.get(digest) : undefined;
        if (!bytes) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }).end(bytes);
        return;
      }
    }
  });
  const running = await listen(server);
  return {
    ...running,
    seen,
    get answer() {
      return state.answer;
    },
    set answer(value: ForeignAnswer) {
      state.answer = value;
    },
  };
}

/** A registry serving `hostileImage()` (tag `v1` and its digest) in every repository, misbehaving as `modes` say. */
export async function startHostileRegistry(options: HostileRegistryOptions = {}): Promise<HostileRegistry> {
  const defaultImage = hostileImage();
  const modes: Record<string, RepositoryMode> = {};
  const seen: HostileRegistry['seen'] = [];
  let open = 0;
  let started = 0;
  const basic = options.basic ? 'Basic ' + Buffer.from(`${options.basic.username}:${options.basic.password}`).toString('base64') : null;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    const route = /^\/v2\/(.+?)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(url.pathname);
    const repository = route?.[1] ?? null;
    const auth = req.headers.authorization ?? null;
    seen.push({ method: req.method ?? 'GET', path: req.url ?? '/', authorization: auth, repository });
    const mode = (repository && modes[repository]) || {};
    const image = mode.image ?? defaultImage;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

    if (mode.realm) {
      if (auth !== `Bearer ${GRANTED}`) {
        const scope = `repository:${repository}:pull`;
        return json(
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          { 'www-authenticate': `Bearer realm="${mode.realm}",service="hostile",scope="${scope}"` },
        );
      }
    } else if (basic && auth !== basic) {
      return json(
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
        { 'www-authenticate': 'Basic realm="hostile"' },
      );
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') return json(200, {});
    if (!route) return json(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'no such repository' }] });
    const [, , kind, reference] = route;
    const head = req.method === 'HEAD';

    if (kind === 'manifests') {
      if (reference !== 'v1' && reference !== image.digest)
        return json(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      if (!head && mode.manifestRedirect) return res.writeHead(307, { location: mode.manifestRedirect }).end();
      const headers = {
        'content-type': image.mediaType,
        'content-length': String(image.bytes.length),
        'docker-content-digest': image.digest,
      };
      if (head) return res.writeHead(200, headers).end();
      if (mode.trickle) return slow(res, headers, image.bytes, mode.trickle.intervalMs);
      return res.writeHead(200, headers).end(image.bytes);
    }
    if (kind === 'blobs') {
      const bytes = image.blobs.get(reference!);
      if (!bytes) return json(404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] });
      if (!head && mode.blobRedirect) return res.writeHead(307, { location: mode.blobRedirect.replace('{digest}', reference!) }).end();
      const headers = {
        'content-type': 'application/octet-stream',
        'content-length': String(bytes.length),
        'docker-content-digest': reference!,
      };
      if (head) return res.writeHead(200, headers).end();
      if (mode.trickle) return slow(res, headers, bytes, mode.trickle.intervalMs);
      return res.writeHead(200, headers).end(bytes);
    }
    return json(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'no referrers API' }] });
  });

  function slow(res: ServerResponse, headers: Record<string, string>, body: Buffer, intervalMs: number): void {
    open++;
    started++;
    res.writeHead(200, headers);
    trickle(res, body, intervalMs, () => open--);
  }

  const running = await listen(server);
  return { ...running, image: defaultImage, seen, modes, trickling: () => open, trickled: () => started };
}
