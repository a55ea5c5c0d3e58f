/**
 * HTTPS certificates: the operator's PEM files, or a self-signed certificate for the configured
 * host names made with node-forge at first start and kept under `<data dir>/tls/` (reused while
 * its host names match). The certificate is its own CA, so clients trust it by its file:
 * `curl --cacert`, `skopeo --src-cert-dir`, `/etc/docker/certs.d/<host>/ca.crt`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import type { TlsConfig } from '../config.js';
import type { Logger } from '../log.js';

/** Years a self-signed certificate is valid. */
export const SELF_SIGNED_YEARS = 2;

/** PEM key and certificate for `https.createServer`. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** SHA-256 fingerprint of a PEM certificate, colon-separated hex as browsers and openssl show it. */
export function certificateFingerprint(certPem: string): string {
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes();
  const hex = createHash('sha256').update(Buffer.from(der, 'binary')).digest('hex').toUpperCase();
  return hex.match(/../g)?.join(':') ?? hex;
}

/** Makes a self-signed certificate (RSA 2048, SHA-256) valid for `hostnames` (names and IPs). */
export function selfSignedCertificate(hostnames: readonly string[], now = new Date()): TlsMaterial {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${createHash('sha256').update(`${hostnames.join(',')}${now.toISOString()}`).digest('hex').slice(0, 30)}`;
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + SELF_SIGNED_YEARS * 365 * 24 * 3600 * 1000);
  const subject = [{ name: 'commonName', value: hostnames[0] ?? 'localhost' }, { name: 'organizationName', value: 'nixyard (self-signed)' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hostnames.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })) },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The certificate to serve with, or `undefined` for plain HTTP. */
export async function loadTls(config: TlsConfig, dataDir: string, log: Logger): Promise<TlsMaterial | undefined> {
  if (config.mode === 'off') return undefined;
  if (config.mode === 'files') {
    const read = async (variable: string, path: string) => {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        throw new Error(`${variable}=${path} cannot be read: ${(error as Error).message}`, { cause: error });
      }
    };
    return { cert: await read('NIXYARD_TLS_CERT', config.certFile), key: await read('NIXYARD_TLS_KEY', config.keyFile) };
  }
  const dir = join(dataDir, 'tls');
  const [certPath, keyPath, hostsPath] = [join(dir, 'cert.pem'), join(dir, 'key.pem'), join(dir, 'hostnames.json')];
  const wanted = JSON.stringify(config.hostnames);
  const [cert, key, hosts] = await Promise.all([readIfPresent(certPath), readIfPresent(keyPath), readIfPresent(hostsPath)]);
  let material: TlsMaterial;
  if (cert && key && hosts === wanted) {
    material = { cert, key };
  } else {
    material = selfSignedCertificate(config.hostnames);
    await mkdir(dir, { recursive: true });
    await writeFile(keyPath, material.key, { mode: 0o600 });
    await writeFile(certPath, material.cert);
    await writeFile(hostsPath, wanted);
  }
  log.info('self-signed TLS certificate', { hostnames: config.hostnames.join(','), pem: certPath, sha256: certificateFingerprint(material.cert) });
  return material;
}
