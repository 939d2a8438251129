import { Pool } from 'undici';

/**
 * The orchestrator's own, deliberately plain REST client for the emulator: seeding workflows and instances,
 * triggering status changes, and timing a single GET. It bypasses the gateway's client on purpose, so its
 * caches, de-duplication and budget can never flatter a measurement.
 */
export interface Rest {
  /** PUT /workflows/{name}. */
  putWorkflow(name: string, className: string): Promise<void>;
  /** POST /workflows/{name}/instances/batch, 100 at a time. Returns the ids in order. */
  createInstances(workflowName: string, items: readonly { instanceId: string; params?: unknown }[]): Promise<string[]>;
  /** PATCH /workflows/{name}/instances/{id}/status. Resolves when the emulator has answered. */
  changeStatus(workflowName: string, instanceId: string, status: 'pause' | 'resume' | 'terminate'): Promise<void>;
  /** GET /workflows/{name}/instances/{id}; returns the instance status and the round trip in ms. */
  getInstance(workflowName: string, instanceId: string, simple?: boolean): Promise<{ status: string; ms: number }>;
  close(): Promise<void>;
}

interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  result: T;
}

export function createRest(baseUrl: string, accountId: string, apiToken: string): Rest {
  const url = new URL(baseUrl);
  const pool = new Pool(url.origin, { connections: 32 });
  const prefix = `${url.pathname.replace(/\/+$/, '')}/accounts/${accountId}/workflows`;
  const headers = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' };
  const enc = encodeURIComponent;

  async function call<T>(method: 'GET' | 'PUT' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    const response = await pool.request({
      method,
      path: `${prefix}${path}`,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    let envelope: Envelope<T>;
    try {
      envelope = JSON.parse(text) as Envelope<T>;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${response.statusCode}, body is not JSON: ${text.slice(0, 200)}`);
    }
    if (response.statusCode >= 400 || !envelope.success) {
      const reasons = envelope.errors?.map((e) => `${e.code} ${e.message}`).join('; ') ?? '';
      throw new Error(`${method} ${path}: HTTP ${response.statusCode} ${reasons}`);
    }
    return envelope.result;
  }

  return {
    async putWorkflow(name, className) {
      await call('PUT', `/${enc(name)}`, { class_name: className, script_name: 'bench' });
    },
    async createInstances(workflowName, items) {
      const ids: string[] = [];
      for (let i = 0; i < items.length; i += 100) {
        const batch = items
          .slice(i, i + 100)
          .map((item) => ({ instance_id: item.instanceId, params: item.params ?? {} }));
        const created = await call<{ id: string }[]>('POST', `/${enc(workflowName)}/instances/batch`, batch);
        ids.push(...created.map((c) => c.id));
      }
      return ids;
    },
    async changeStatus(workflowName, instanceId, status) {
      await call('PATCH', `/${enc(workflowName)}/instances/${enc(instanceId)}/status`, { status });
    },
    async getInstance(workflowName, instanceId, simple = false) {
      const started = performance.now();
      const result = await call<{ status: string }>(
        'GET',
        `/${enc(workflowName)}/instances/${enc(instanceId)}${simple ? '?simple=true' : ''}`,
      );
      return { status: result.status, ms: performance.now() - started };
    },
    close: () => pool.close(),
  };
}
