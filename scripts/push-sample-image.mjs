#!/usr/bin/env node
// Pushes a small generated OCI image to a registry through the plain distribution API, and prints
// its digest. For trying the promoter out; no dependencies, anonymous access only.
//
//   node scripts/push-sample-image.mjs http://127.0.0.1:5000 dev/web 1.0
//
// The image: one uncompressed tar layer holding a file of random bytes (so every run pushes a new
// digest), a config that runs as user 1000, and an OCI image manifest, tagged <tag>.
import { createHash, randomBytes } from 'node:crypto';

const [registry, repository, tag] = process.argv.slice(2);
if (!registry || !repository || !tag || !/^https?:\/\//.test(registry)) {
  console.error('usage: node scripts/push-sample-image.mjs <registry URL> <repository> <tag>');
  console.error('  e.g. node scripts/push-sample-image.mjs http://127.0.0.1:5000 dev/web 1.0');
  process.exit(2);
}
const base = new URL(registry);
const digestOf = (bytes) => 'sha256:' + createHash('sha256').update(bytes).digest('hex');

/** A tar archive with one regular file (ustar headers, two zero blocks at the end). */
function tar(name, content) {
  const header = Buffer.alloc(512);
  const field = (value, offset, length) => header.write(value, offset, length, 'ascii');
  const octal = (n, length) => n.toString(8).padStart(length - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(1000, 8), 108, 8); // uid
  field(octal(1000, 8), 116, 8); // gid
  field(octal(content.length, 12), 124, 12);
  field(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
  field('        ', 148, 8); // checksum is computed with this field as spaces
  field('0', 156, 1); // regular file
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(octal(sum, 7) + ' ', 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

async function call(method, target, { body, headers = {}, expect }) {
  const res = await fetch(new URL(target, base), { method, body, headers }).catch((err) => {
    throw new Error(`cannot reach ${base.origin}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  if (res.status !== expect) {
    const text = (await res.text()).trim().slice(0, 500);
    throw new Error(`${method} ${new URL(target, base).pathname}: ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`);
  }
  return res;
}

/** POST opens an upload session; PUT to its Location with ?digest= sends the bytes and commits. */
async function pushBlob(bytes) {
  const digest = digestOf(bytes);
  const opened = await call('POST', `/v2/${repository}/blobs/uploads/`, { expect: 202 });
  const upload = new URL(opened.headers.get('location'), base);
  upload.searchParams.set('digest', digest);
  await call('PUT', upload, { body: bytes, headers: { 'content-type': 'application/octet-stream' }, expect: 201 });
  return { digest, size: bytes.length };
}

process.on('uncaughtException', (err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});

const layerBytes = tar('sample/random.bin', randomBytes(1024));
const layer = await pushBlob(layerBytes);
const configBytes = Buffer.from(
  JSON.stringify({
    created: new Date().toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: { User: '1000' },
    rootfs: { type: 'layers', diff_ids: [layer.digest] }, // an uncompressed layer: its diff_id is its digest
  }),
);
const config = await pushBlob(configBytes);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  }),
);
const digest = digestOf(manifest);
const put = await call('PUT', `/v2/${repository}/manifests/${tag}`, {
  body: manifest,
  headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  expect: 201,
});
const stored = put.headers.get('docker-content-digest');
if (stored && stored !== digest) throw new Error(`the registry stored the manifest as ${stored}, not ${digest}`);
console.error(`pushed ${base.host}/${repository}:${tag}`);
console.log(digest);
