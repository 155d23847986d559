/**
 * From what `install` reports per artifact (its `onInstalled` callback) to the records: an
 * `offline_packages` row for every artifact, and for models `local_ai_models` + `model_catalog`.
 * Name, version, size and model facts come from the signed bundle manifest, looked up by the
 * artifact's index ref name (the same `ref` the manifest lists).
 */
import type { BundleManifest } from '../bundle/manifest.js';
import type { DeploymentRecorder } from './records.js';

/** Structurally what install's InstalledArtifact carries (src/install/result.ts). */
export interface InstalledArtifactLike {
  kind: 'image' | 'chart' | 'model';
  /** Index ref name: docker.io/demo/hello:1.0, charts/kubechat:0.1.0, registry.ollama.ai/library/assist:1.0 */
  ref: string;
  /** The bundle's digest of the artifact's root. */
  digest: string;
  /** Where it now lives, e.g. 127.0.0.1:5000/demo/hello:1.0 */
  location: string;
  /** The digest the target reports (differs when Ollama rewrote a model). */
  targetDigest: string;
}

/** `registry/repo:tag` → [`registry/repo`, `tag`]; a digest-only ref keeps its digest as version. */
export function splitRef(ref: string): { name: string; version: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { name: ref.slice(0, at), version: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), version: ref.slice(colon + 1) };
  return { name: ref, version: 'latest' };
}

export async function recordInstalledArtifact(
  recorder: DeploymentRecorder,
  artifact: InstalledArtifactLike,
  manifest: BundleManifest,
): Promise<void> {
  const { artifacts } = manifest;
  if (artifact.kind === 'image') {
    const info = artifacts.images.find((i) => i.ref === artifact.ref);
    const { name, version } = splitRef(artifact.ref);
    await recorder.recordPackage({
      name,
      version,
      type: 'image',
      digest: artifact.digest,
      size: info?.size ?? 0,
      filePath: artifact.location,
      dependencies: info ? { platforms: info.platforms } : undefined,
    });
  } else if (artifact.kind === 'chart') {
    const info = artifacts.charts.find((c) => c.ref === artifact.ref);
    const fromRef = splitRef(artifact.ref);
    await recorder.recordPackage({
      name: info?.name ?? fromRef.name,
      version: info?.version ?? fromRef.version,
      type: 'chart',
      digest: artifact.digest,
      size: info?.size ?? 0,
      filePath: artifact.location,
      dependencies: info ? { images: info.images } : undefined,
    });
  } else {
    const info = artifacts.models.find((m) => m.ref === artifact.ref);
    const { name, version } = splitRef(info?.name ?? artifact.ref);
    const size = info?.size ?? 0;
    await recorder.recordPackage({
      name,
      version,
      type: 'model',
      digest: artifact.digest,
      size,
      filePath: artifact.location,
    });
    await recorder.recordModel({
      name,
      version,
      digest: artifact.digest,
      size,
      family: info?.family,
      parameterSize: info?.parameterSize,
      quantization: info?.quantization,
      license: info?.license ?? null,
      filePath: artifact.location,
      metadata: {
        ref: artifact.ref,
        bundle: `${manifest.name}:${manifest.version}`,
        ...(artifact.targetDigest !== artifact.digest ? { targetDigest: artifact.targetDigest } : {}),
      },
    });
  }
}
