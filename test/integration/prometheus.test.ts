/**
 * A real Prometheus scrapes a real nixyard's `/metrics` (bearer token on) after a pull, a failed
 * pull and an API build, and the expected series are read back through its query API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoServer } from '../helpers/demo-server.js';
import { startPrometheus, type RunningPrometheus, type Sample } from '../helpers/prometheus.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const TOKEN = 'prometheus-scrapes-here';

describe('metrics scraped by Prometheus', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  let prometheus: RunningPrometheus;
  beforeAll(async () => {
    server = await startDemoServer({ NIXYARD_METRICS_TOKEN: TOKEN });
    prometheus = await startPrometheus([`127.0.0.1:${server.port}`], { bearerToken: TOKEN });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await server?.close();
  });

  /** The samples of `query` once Prometheus has them (it scrapes every second). */
  async function eventually(query: string, accept: (samples: Sample[]) => boolean): Promise<Sample[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const samples = await prometheus.query(query);
      if (accept(samples)) return samples;
      if (Date.now() > deadline) throw new Error(`${query}: still ${JSON.stringify(samples)} after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('has the series of a pull, a failed pull and an API build, with templates for labels', async () => {
    expect((await fetch(`${server.url}/v2/shell/hello/manifests/latest`, { headers: { Accept: OCI } })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/no-such-package/manifests/latest`, { headers: { Accept: OCI } })).status).toBe(404);
    const created = await fetch(`${server.url}/v1/builds`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ image: 'hello/nano' }) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const deadline = Date.now() + 60_000;
    while (((await (await fetch(`${server.url}/v1/builds/${id}`)).json()) as { status: string }).status !== 'succeeded') {
      if (Date.now() > deadline) throw new Error(`build ${id} did not succeed`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const up = await eventually('up{job="nixyard"}', (samples) => samples[0]?.value === 1);
    expect(up).toHaveLength(1);
    const manifests = '/v2/{name}/manifests/{reference}';
    await eventually(`nixyard_http_requests_total{route="${manifests}",method="GET",status="200"}`, (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually(`nixyard_http_requests_total{route="${manifests}",method="GET",status="404"}`, (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually('nixyard_builds_total{kind="packages",trigger="api",status="succeeded"}', (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually('nixyard_builds_total{kind="packages",trigger="pull",status="failed"}', (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually('nixyard_manifests_served_total{from="build"}', (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually('sum(nixyard_layers_total)', (samples) => (samples[0]?.value ?? 0) >= 1);
    await eventually('nixyard_build_phase_duration_seconds_count{phase="packing"}', (samples) => samples.length > 0);
    await eventually('histogram_quantile(0.5, sum by (le) (rate(nixyard_http_request_duration_seconds_bucket[1m])))', (samples) => samples.length === 1);
    // No label value anywhere holds an image name.
    const series = (await (await fetch(`${prometheus.url}/api/v1/series?match[]=${encodeURIComponent('{__name__=~"nixyard_.+"}')}`)).json()) as { data: Record<string, string>[] };
    const labelValues = series.data.flatMap((labels) => Object.entries(labels).filter(([name]) => name !== '__name__').map(([, value]) => value));
    expect(labelValues.filter((value) => /hello|nano|no-such-package/.test(value))).toEqual([]);
  });
});
