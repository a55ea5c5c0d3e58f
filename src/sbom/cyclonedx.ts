/**
 * The CycloneDX 1.6 JSON document of an image: the image as the metadata's container component,
 * one component per store path (name, version, `pkg:nix` PURL, SHA-256 of the NAR, licenses where
 * the package set states them, the store path as a property), `dependencies` from the references
 * and the image depending on its requested packages. Deterministic, like the SPDX document.
 */
import type { AppContents, ImageContents } from './contents.js';
import { isSpdxId, SBOM_CREATED, SBOM_TOOL, sbomPackages, seededUuid, type SbomPackage, type SbomSubject } from './packages.js';

/** The media type of CycloneDX JSON (the `artifactType` of its OCI artifact). */
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

const IMAGE_REF = 'image';

function component(pkg: SbomPackage): Record<string, unknown> {
  return {
    type: pkg.requestedAs.length > 0 ? 'application' : 'library',
    'bom-ref': pkg.path,
    name: pkg.name,
    ...(pkg.version === undefined ? {} : { version: pkg.version }),
    ...(pkg.sha256 === undefined ? {} : { hashes: [{ alg: 'SHA-256', content: pkg.sha256 }] }),
    ...(pkg.licenses.length > 0 ? { licenses: pkg.licenses.map((license) => ({ license: isSpdxId(license) ? { id: license } : { name: license } })) } : {}),
    purl: pkg.purl,
    properties: [{ name: 'nix:store_path', value: pkg.path }, ...pkg.requestedAs.map((name) => ({ name: 'nixyard:requested_as', value: name }))],
  };
}

const APP_REF = 'app';

/** The application of an image from source and its dependencies: components and dependencies. */
function appParts(app: AppContents | undefined, name: string): { components: Record<string, unknown>[]; dependencies: Record<string, unknown>[] } {
  if (!app) return { components: [], dependencies: [] };
  const application = {
    type: 'application',
    'bom-ref': APP_REF,
    name,
    version: app.commit,
    externalReferences: [{ type: 'vcs', url: app.repository, comment: `commit ${app.commit}${app.dir ? `, directory ${app.dir}` : ''}` }],
  };
  const libraries = app.dependencies.map((dependency) => ({
    type: 'library',
    'bom-ref': dependency.purl,
    name: dependency.name,
    version: dependency.version,
    purl: dependency.purl,
    ...(dependency.license ? { licenses: [{ license: isSpdxId(dependency.license) ? { id: dependency.license } : { name: dependency.license } }] } : {}),
    ...(dependency.dev ? { scope: 'optional' } : {}),
    properties: [{ name: 'nixyard:lockfile', value: dependency.lockfile }],
  }));
  return {
    components: [application, ...libraries],
    dependencies: [{ ref: APP_REF, dependsOn: app.dependencies.map((dependency) => dependency.purl) }, ...app.dependencies.map((dependency) => ({ ref: dependency.purl, dependsOn: [] }))],
  };
}

/** The CycloneDX 1.6 document of an image (pure). */
export function cycloneDxDocument(contents: ImageContents, subject: SbomSubject): Record<string, unknown> {
  const packages = sbomPackages(contents);
  const app = appParts(contents.app, subject.name);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${seededUuid(`cyclonedx ${subject.configDigest}`)}`,
    version: 1,
    metadata: {
      timestamp: SBOM_CREATED,
      tools: { components: [{ type: 'application', name: SBOM_TOOL.name, version: SBOM_TOOL.version }] },
      component: { type: 'container', 'bom-ref': IMAGE_REF, name: subject.name, version: subject.configDigest, properties: [{ name: 'nixyard:arch', value: subject.arch }] },
    },
    components: [...app.components, ...packages.map(component)],
    dependencies: [
      { ref: IMAGE_REF, dependsOn: [...(contents.app ? [APP_REF] : []), ...packages.filter((pkg) => pkg.requestedAs.length > 0).map((pkg) => pkg.path)] },
      ...app.dependencies,
      ...packages.map((pkg) => ({ ref: pkg.path, dependsOn: pkg.dependsOn })),
    ],
  };
}
