/** HTTPS with a self-signed certificate made at start-up, trusted by curl and skopeo by its file. */
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificateFingerprint } from '../../src/http/tls.js';
import type { Logger } from '../../src/log.js';
import { runTool } from '../helpers/docker.js';
import { startDemoServer } from '../helpers/demo-server.js';
import { requireTool } from '../helpers/tools.js';

function capturingLogger(lines: string[]): Logger {
  const push = (message: string, fields?: Record<string, unknown>) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { debug: push, info: push, warn: push, error: push };
}

describe('TLS', () => {
  it('serves HTTPS with a self-signed certificate that curl and skopeo trust by its PEM file', async () => {
    await requireTool('curl', 'apt-get install -y curl');
    await requireTool('skopeo', 'apt-get install -y skopeo');
    const lines: string[] = [];
    const server = await startDemoServer({ NIXYARD_TLS_SELF_SIGNED: '1', NIXYARD_TLS_HOSTNAMES: 'localhost,127.0.0.1' }, { log: capturingLogger(lines) });
    try {
      const pem = join(server.dataDir, 'tls', 'cert.pem');
      const announced = lines.find((line) => line.startsWith('self-signed TLS certificate'));
      expect(announced).toContain(pem);
      expect(announced).toContain(certificateFingerprint(await readFile(pem, 'utf8')));

      const https = `https://127.0.0.1:${server.port}`;
      const trusted = await runTool('curl', ['-sS', '--cacert', pem, '-o', '/dev/null', '-w', '%{http_code}', `${https}/v2/`]);
      expect(trusted.stdout, trusted.all).toBe('200');
      const untrusted = await runTool('curl', ['-sS', '-o', '/dev/null', `${https}/v2/`]);
      expect(untrusted.failed).toBe(true);
      expect(untrusted.stderr).toMatch(/certificate/i);
      const plain = await runTool('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${server.port}/v2/`]);
      expect(plain.stdout).not.toBe('200');

      const certDir = await mkdtemp(join(tmpdir(), 'nixyard-certs-'));
      await copyFile(pem, join(certDir, 'ca.crt'));
      const inspect = await runTool('skopeo', ['inspect', '--cert-dir', certDir, `docker://127.0.0.1:${server.port}/hello:latest`]);
      expect(inspect.failed, inspect.all).toBe(false);
      expect(JSON.parse(inspect.stdout).Layers.length).toBeGreaterThan(0);
      const refused = await runTool('skopeo', ['inspect', `docker://127.0.0.1:${server.port}/hello:latest`]);
      expect(refused.failed).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('keeps the certificate across restarts and serves given PEM files', async () => {
    const first = await startDemoServer({ NIXYARD_TLS_SELF_SIGNED: '1' });
    const pem = join(first.dataDir, 'tls', 'cert.pem');
    const key = join(first.dataDir, 'tls', 'key.pem');
    const cert = await readFile(pem, 'utf8');
    await first.close();
    const restarted = await startDemoServer({ NIXYARD_TLS_SELF_SIGNED: '1', NIXYARD_DATA_DIR: first.dataDir });
    await restarted.close();
    expect(await readFile(pem, 'utf8')).toBe(cert);
    const fromFiles = await startDemoServer({ NIXYARD_TLS_CERT: pem, NIXYARD_TLS_KEY: key });
    try {
      const result = await runTool('curl', ['-sS', '--cacert', pem, '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${fromFiles.port}/v2/`]);
      expect(result.stdout, result.all).toBe('200');
    } finally {
      await fromFiles.close();
    }
  });

  it('a missing certificate file stops start-up naming the variable', async () => {
    await expect(startDemoServer({ NIXYARD_TLS_CERT: '/nonexistent/cert.pem', NIXYARD_TLS_KEY: '/nonexistent/key.pem' })).rejects.toThrow(/NIXYARD_TLS_CERT=\/nonexistent\/cert.pem cannot be read/);
  });
});
