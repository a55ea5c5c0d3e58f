/**
 * The SPDX 2.3 JSON document of an image: one package per store path (name and version from the
 * path, the NAR hash as a SHA256 checksum, a `pkg:nix` PURL, declared licenses where the package
 * set states them), the image's requested packages described by the document, `DEPENDS_ON` for
 * each reference. Deterministic: the same contents and subject give the same bytes.
 */
import type { AppContents, ImageContents } from './contents.js';
import type { AppDependency } from './lockfiles.js';
import { isSpdxId, SBOM_CREATED, SBOM_TOOL, sbomPackages, seededUuid, type SbomPackage, type SbomSubject } from './packages.js';

/** The media type of SPDX JSON (the `artifactType` of its OCI artifact). */
export const SPDX_MEDIA_TYPE = 'application/spdx+json';

/** The SPDX id of a store path's package (letters, digits, `.` and `-` only). */
const spdxId = (path: string) => `SPDXRef-Package-${path.slice('/nix/store/'.length).replace(/[^A-Za-z0-9.-]/g, '-')}`;

/** A declared license expression: the SPDX ids joined with AND, or NOASSERTION when any is not one. */
function declared(licenses: readonly string[]): string {
  if (licenses.length === 0 || !licenses.every(isSpdxId)) return 'NOASSERTION';
  return licenses.join(' AND ');
}

function spdxPackage(pkg: SbomPackage): Record<string, unknown> {
  const unknown = pkg.licenses.filter((license) => !isSpdxId(license));
  return {
    SPDXID: spdxId(pkg.path),
    name: pkg.name,
    ...(pkg.version === undefined ? {} : { versionInfo: pkg.version }),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    ...(pkg.sha256 === undefined ? {} : { checksums: [{ algorithm: 'SHA256', checksumValue: pkg.sha256 }] }),
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: declared(pkg.licenses),
    ...(unknown.length > 0 ? { licenseComments: `meta.license of the package set: ${pkg.licenses.join(', ')}` } : {}),
    copyrightText: 'NOASSERTION',
    ...(pkg.requestedAs.length > 0 ? { primaryPackagePurpose: 'APPLICATION' } : { primaryPackagePurpose: 'LIBRARY' }),
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: pkg.purl }],
    comment: pkg.requestedAs.length > 0 ? `Nix store path ${pkg.path}, requested as ${pkg.requestedAs.join(', ')}` : `Nix store path ${pkg.path}`,
  };
}

const APP_ID = 'SPDXRef-App';
const dependencyId = (dependency: AppDependency) => `SPDXRef-App-${dependency.ecosystem}-${`${dependency.name}-${dependency.version}`.replace(/[^A-Za-z0-9.-]/g, '-')}`;

/** The application of an image from source and its dependencies: packages and relationships. */
function appParts(app: AppContents | undefined, name: string): { packages: Record<string, unknown>[]; relationships: Record<string, unknown>[] } {
  if (!app) return { packages: [], relationships: [] };
  const appPackage = {
    SPDXID: APP_ID,
    name,
    versionInfo: app.commit,
    downloadLocation: 'NOASSERTION',
    sourceInfo: `${app.repository} at commit ${app.commit}${app.dir ? `, directory ${app.dir}` : ''}`,
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'APPLICATION',
  };
  const dependencies = app.dependencies.map((dependency) => ({
    SPDXID: dependencyId(dependency),
    name: dependency.name,
    versionInfo: dependency.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: dependency.license !== undefined && isSpdxId(dependency.license) ? dependency.license : 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'LIBRARY',
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: dependency.purl }],
    comment: `from ${dependency.lockfile}`,
  }));
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: APP_ID },
    ...app.dependencies.map((dependency) =>
      dependency.dev
        ? { spdxElementId: dependencyId(dependency), relationshipType: 'DEV_DEPENDENCY_OF', relatedSpdxElement: APP_ID }
        : { spdxElementId: APP_ID, relationshipType: 'DEPENDS_ON', relatedSpdxElement: dependencyId(dependency) },
    ),
  ];
  return { packages: [appPackage, ...dependencies], relationships };
}

/** The SPDX 2.3 document of an image (pure). */
export function spdxDocument(contents: ImageContents, subject: SbomSubject): Record<string, unknown> {
  const packages = sbomPackages(contents);
  const described = packages.filter((pkg) => pkg.requestedAs.length > 0);
  const app = appParts(contents.app, subject.name);
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${subject.name} (${subject.arch})`,
    documentNamespace: `urn:uuid:${seededUuid(`spdx ${subject.configDigest}`)}`,
    creationInfo: { created: SBOM_CREATED, creators: [`Tool: ${SBOM_TOOL.name}-${SBOM_TOOL.version}`], comment: `The Nix closure of the image with config ${subject.configDigest}` },
    packages: [...app.packages, ...packages.map(spdxPackage)],
    relationships: [
      ...app.relationships,
      ...described.map((pkg) => ({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: spdxId(pkg.path) })),
      ...packages.flatMap((pkg) => pkg.dependsOn.map((dependency) => ({ spdxElementId: spdxId(pkg.path), relationshipType: 'DEPENDS_ON', relatedSpdxElement: spdxId(dependency) }))),
    ],
  };
}
