/**
 * One metric's value from a running runtime's metrics endpoint
 * (`TLS_CACHE_METRICS_PORT`), by its full name, without labels; `NaN` when
 * the endpoint has no such line.
 */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}
