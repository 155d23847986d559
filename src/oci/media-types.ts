/** Media types kubechat reads and writes. One name per idea: use these constants, never string literals. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  helmProvenance: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
  ollamaModel: 'application/vnd.ollama.image.model',
  ollamaAdapter: 'application/vnd.ollama.image.adapter',
  ollamaProjector: 'application/vnd.ollama.image.projector',
  ollamaTemplate: 'application/vnd.ollama.image.template',
  ollamaSystem: 'application/vnd.ollama.image.system',
  ollamaParams: 'application/vnd.ollama.image.params',
  ollamaMessages: 'application/vnd.ollama.image.messages',
  ollamaLicense: 'application/vnd.ollama.image.license',
} as const;

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociIndex,
  MediaType.dockerManifestList,
]);
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.dockerManifest,
]);

/** Annotation keys used in the bundle's OCI index. */
export const Annotation = {
  refName: 'org.opencontainers.image.ref.name',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  kind: 'io.kubechat.kind',
} as const;
