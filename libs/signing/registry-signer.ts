import {
  isRegistryError,
  RegistryError,
  sha256Digest,
  type Descriptor,
  type Manifest,
  type RegistryClient,
  type RepositoryLocation,
} from '#libs/registry/index.js';
import { keyBundle, signEnvelope, statementBytes } from './dsse.js';
import {
  Annotations,
  attestationTag,
  cosignConfigBlob,
  EMPTY_JSON_DIGEST,
  inTotoStatement,
  MAX_SIGNATURE_LAYERS,
  pae,
  parseDsseEnvelope,
  referrersFallbackTag,
  signatureTag,
  SigningMediaTypes,
  simpleSigningPayload,
} from './formats.js';
import { verifyWith, type Signer } from './signer.js';

/** An image in a registry of the pipeline, and the name its signatures give it (`host/repository`). */
export interface ImageToSign extends RepositoryLocation {
  digest: string;
  /** Name in payloads and statement subjects; default `<registry>/<repository>`. */
  name?: string;
}

export interface AttestationInput {
  predicateType: string;
  predicate: unknown;
}

export interface SignatureWritten {
  tag: string;
  /** The `.sig` manifest now under the tag. */
  manifestDigest: string;
  /** The layer: the simple-signing payload's digest. */
  payloadDigest: string;
  /** `added`, or `present` when a signature by this key over this payload was already there. */
  status: 'added' | 'present';
}

export interface AttestationWritten {
  predicateType: string;
  /** sha256 of the in-toto statement bytes (the DSSE payload). */
  statementDigest: string;
  /** The `.att` layer: the DSSE envelope blob. */
  envelopeDigest: string;
  tag: string;
  manifestDigest: string;
  status: 'added' | 'present';
  /** The sigstore bundle referrer manifest, and where clients find it. */
  referrer: { digest: string; bundleDigest: string; listedBy: 'referrers-api' | 'fallback-tag' };
}

const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;
const EMPTY_JSON = Buffer.from('{}');

/**
 * Writes cosign-compatible signatures and attestations next to an image: `.sig` and `.att` tags
 * (read, append, write back, as cosign does) and sigstore bundle referrers. Idempotent: what this
 * key already wrote over the same payload is found and reused, so a retried run adds nothing twice.
 * Like cosign it does not lock: two writers appending to one tag at once can lose one append.
 */
export class RegistrySigner {
  constructor(
    private readonly registry: RegistryClient,
    readonly signer: Signer,
  ) {}

  async sign(image: ImageToSign, signal?: AbortSignal): Promise<SignatureWritten> {
    const payload = simpleSigningPayload(nameOf(image), image.digest);
    const payloadDigest = sha256Digest(payload);
    const tag = signatureTag(image.digest);
    const existing = await this.readCosignManifest(image, tag, signal);
    const mine = existing?.json.layers?.find(
      (l) =>
        l.digest === payloadDigest &&
        verifyWith(this.signer.publicKey, payload, Buffer.from(l.annotations?.[Annotations.signature] ?? '', 'base64')),
    );
    if (existing && mine) return { tag, manifestDigest: existing.digest, payloadDigest, status: 'present' };

    const signature = await this.signer.sign(payload);
    const layer: Descriptor = {
      mediaType: SigningMediaTypes.simpleSigning,
      size: payload.length,
      digest: payloadDigest,
      annotations: { [Annotations.signature]: signature.toString('base64') },
    };
    const manifestDigest = await this.appendLayers(image, tag, existing, [layer], signal, [payload]);
    return { tag, manifestDigest, payloadDigest, status: 'added' };
  }

  /** An in-toto statement about the image with this predicate, as a `.att` layer and a bundle referrer. */
  async attest(image: ImageToSign, predicateType: string, predicate: unknown, signal?: AbortSignal): Promise<AttestationWritten> {
    return (await this.attestAll(image, [{ predicateType, predicate }], signal))[0]!;
  }

  /**
   * Several statements at once: one read and one write of `.att` and of the fallback index, the
   * blobs and referrer manifests pushed concurrently. Each statement is found or added on its own.
   */
  async attestAll(image: ImageToSign, items: AttestationInput[], signal?: AbortSignal): Promise<AttestationWritten[]> {
    const tag = attestationTag(image.digest);
    const statements = items.map((i) => statementBytes(inTotoStatement(nameOf(image), image.digest, i.predicateType, i.predicate)));
    const [existing, subject] = await Promise.all([
      this.readCosignManifest(image, tag, signal),
      this.registry.headManifest(image, image.digest, signal),
    ]);
    if (!subject) throw new RegistryError('not_found', `${nameOf(image)}@${image.digest} is not in the registry`, { status: 404 });

    const found = await Promise.all(
      items.map((i, k) => (existing ? this.findOwnEnvelope(image, existing, i.predicateType, statements[k]!, signal) : null)),
    );
    const envelopes = await Promise.all(
      statements.map(async (statement, k) => found[k] ?? Buffer.from(JSON.stringify(await signEnvelope(this.signer, statement)), 'utf8')),
    );
    const bundles = envelopes.map((e) => Buffer.from(JSON.stringify(keyBundle(parseDsseEnvelope(e), this.signer.hint)), 'utf8'));
    const newLayers: Descriptor[] = envelopes.flatMap((e, k) =>
      found[k]
        ? []
        : [
            {
              mediaType: SigningMediaTypes.dsseEnvelope,
              size: e.length,
              digest: sha256Digest(e),
              annotations: { [Annotations.signature]: '', [Annotations.predicateType]: items[k]!.predicateType },
            },
          ],
    );
    const appended =
      newLayers.length > 0
        ? this.appendLayers(
            image,
            tag,
            existing,
            newLayers,
            signal,
            envelopes.filter((_, k) => !found[k]),
          )
        : Promise.resolve(existing!.digest);
    // A referrer is made visible only once its envelope is in `.att`: a crash in between then leaves
    // nothing a retry (which signs afresh, ECDSA being randomised) would duplicate.
    const [manifestDigest, referrers] = await Promise.all([
      appended,
      this.writeBundleReferrers(
        image,
        subject,
        bundles,
        items.map((i) => i.predicateType),
        appended,
        signal,
      ),
    ]);
    return items.map((i, k) => ({
      predicateType: i.predicateType,
      statementDigest: sha256Digest(statements[k]!),
      envelopeDigest: sha256Digest(envelopes[k]!),
      tag,
      manifestDigest,
      status: found[k] ? 'present' : 'added',
      referrer: referrers[k]!,
    }));
  }

  /** The manifest under a tag, or null: one GET, where HEAD then GET would cost a round trip more. */
  private async manifestIfPresent(image: ImageToSign, tag: string, signal?: AbortSignal): Promise<Manifest | null> {
    try {
      return await this.registry.getManifest(image, tag, signal);
    } catch (err) {
      if (isRegistryError(err, 'not_found')) return null;
      throw err;
    }
  }

  private async readCosignManifest(image: ImageToSign, tag: string, signal?: AbortSignal): Promise<Manifest | null> {
    const manifest = await this.manifestIfPresent(image, tag, signal);
    if (!manifest) return null;
    if (!manifest.json.config || !Array.isArray(manifest.json.layers)) {
      throw new RegistryError('protocol', `${nameOf(image)}:${tag} is not an image manifest; refusing to overwrite it`);
    }
    if (manifest.json.layers.length >= MAX_SIGNATURE_LAYERS) {
      throw new RegistryError(
        'protocol',
        `${nameOf(image)}:${tag} already has ${manifest.json.layers.length} layers (cosign's limit is ${MAX_SIGNATURE_LAYERS})`,
      );
    }
    return manifest;
  }

  /** The bytes of an envelope in `.att` over exactly this statement and signed by our key, if any. */
  private async findOwnEnvelope(
    image: ImageToSign,
    att: Manifest,
    predicateType: string,
    statement: Buffer,
    signal?: AbortSignal,
  ): Promise<Buffer | null> {
    const payload = statement.toString('base64');
    const candidates = (att.json.layers ?? []).filter(
      (l) =>
        l.mediaType === SigningMediaTypes.dsseEnvelope &&
        l.annotations?.[Annotations.predicateType] === predicateType &&
        l.size <= MAX_ENVELOPE_BYTES,
    );
    for (const layer of candidates) {
      const bytes = await this.registry.readBlob(image, layer, MAX_ENVELOPE_BYTES, signal);
      let envelope;
      try {
        envelope = parseDsseEnvelope(bytes);
      } catch {
        continue; // someone else's broken layer is not ours to judge here
      }
      if (envelope.payload !== payload) continue;
      const signed = pae(envelope.payloadType, statement);
      if (envelope.signatures.some((s) => verifyWith(this.signer.publicKey, signed, Buffer.from(s.sig, 'base64')))) return bytes;
    }
    return null;
  }

  /** cosign's append: the old layers, then the new ones; the config's diff_ids follow the layers. */
  private async appendLayers(
    image: ImageToSign,
    tag: string,
    existing: Manifest | null,
    added: Descriptor[],
    signal?: AbortSignal,
    blobs: Buffer[] = [],
  ): Promise<string> {
    const layers = [...(existing?.json.layers ?? []), ...added];
    const configBytes = cosignConfigBlob(layers.map((l) => l.digest));
    // The layer blobs and the config go up together; the manifest only once all are stored.
    const [config] = await Promise.all([
      this.registry.pushBlob(image, configBytes, signal),
      ...blobs.map((b) => this.registry.pushBlob(image, b, signal)),
    ]);
    const json = {
      schemaVersion: 2,
      mediaType: SigningMediaTypes.ociManifest,
      config: { mediaType: SigningMediaTypes.ociConfig, size: config.size, digest: config.digest },
      layers,
      ...(existing?.json.annotations ? { annotations: existing.json.annotations } : {}),
    };
    const put = await this.registry.putManifest(
      image,
      tag,
      { bytes: Buffer.from(JSON.stringify(json)), mediaType: SigningMediaTypes.ociManifest },
      signal,
    );
    return put.digest;
  }

  /** One sigstore bundle referrer per bundle (blobs already pushed); derived from stored envelopes only, so a retry yields the same digests. */
  private async writeBundleReferrers(
    image: ImageToSign,
    subject: Descriptor,
    bundles: Buffer[],
    predicateTypes: string[],
    after: Promise<unknown>,
    signal?: AbortSignal,
  ): Promise<AttestationWritten['referrer'][]> {
    const manifests = bundles.map((bundle, k) => {
      const annotations = { [Annotations.bundleContent]: 'dsse-envelope', [Annotations.bundlePredicateType]: predicateTypes[k]! };
      const json = {
        schemaVersion: 2,
        mediaType: SigningMediaTypes.ociManifest,
        artifactType: SigningMediaTypes.sigstoreBundleV03,
        config: { mediaType: SigningMediaTypes.ociEmpty, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length },
        layers: [{ mediaType: SigningMediaTypes.sigstoreBundleV03, digest: sha256Digest(bundle), size: bundle.length }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations,
      };
      const bytes = Buffer.from(JSON.stringify(json));
      const descriptor: Descriptor = {
        mediaType: SigningMediaTypes.ociManifest,
        digest: sha256Digest(bytes),
        size: bytes.length,
        artifactType: SigningMediaTypes.sigstoreBundleV03,
        annotations,
      };
      return { bytes, descriptor, bundleDigest: sha256Digest(bundle) };
    });
    // Blobs, the referrers API probe and the fallback index are independent: fetch and push them together.
    const fallbackTag = referrersFallbackTag(image.digest);
    const [apiAnswer, fallback] = await Promise.all([
      this.registry.referrers(image, image.digest, signal),
      this.manifestIfPresent(image, fallbackTag, signal),
      ...bundles.map((b) => this.registry.pushBlob(image, b, signal)),
      this.registry.pushBlob(image, EMPTY_JSON, signal),
    ]);
    await after;
    const puts = await Promise.all(
      manifests.map((m) =>
        this.registry.putManifest(image, m.descriptor.digest, { bytes: m.bytes, mediaType: SigningMediaTypes.ociManifest }, signal),
      ),
    );
    const api = apiAnswer !== null || puts.every((p) => p.subjectIndexed);
    // Without the API, clients read the fallback index; it is written after the manifests it lists.
    if (!api)
      await this.addToFallbackIndex(
        image,
        fallbackTag,
        fallback as Manifest | null,
        manifests.map((m) => m.descriptor),
        signal,
      );
    const listedBy = api ? ('referrers-api' as const) : ('fallback-tag' as const);
    return manifests.map((m) => ({ digest: m.descriptor.digest, bundleDigest: m.bundleDigest, listedBy }));
  }

  /** Registries without the referrers API: clients read the `sha256-<hex>` index (read-modify-write). */
  private async addToFallbackIndex(
    image: ImageToSign,
    tag: string,
    current: Manifest | null,
    descriptors: Descriptor[],
    signal?: AbortSignal,
  ): Promise<void> {
    const index = current ? current.json : { schemaVersion: 2, mediaType: SigningMediaTypes.ociIndex, manifests: [] };
    if (!Array.isArray(index.manifests))
      throw new RegistryError('protocol', `${nameOf(image)}:${tag} is not an index; refusing to overwrite it`);
    const have = new Set(index.manifests.map((m) => m.digest));
    const missing = descriptors.filter((d) => !have.has(d.digest) && have.add(d.digest));
    if (missing.length === 0) return;
    const json = { ...index, manifests: [...index.manifests, ...missing] };
    await this.registry.putManifest(
      image,
      tag,
      { bytes: Buffer.from(JSON.stringify(json)), mediaType: SigningMediaTypes.ociIndex },
      signal,
    );
  }
}

function nameOf(image: ImageToSign): string {
  return image.name ?? `${image.registry}/${image.repository}`;
}
