// OCI distribution client: image references now; manifests, blobs and copy come with the
// registry engine. Plain TypeScript: no Nest, no database.
export * from './reference.js';
