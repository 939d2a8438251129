import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/** The query GraphiQL opens with: it works on the emulator's demo data from the first click. */
export const DEFAULT_QUERY = /* GraphQL */ `
  # Welcome to Workflows GraphQL. This tab, "Create an order" and "Watch an order" work on the demo data of
  # local mode (the built-in emulator). Press the run button to list your workflows, their latest instances
  # and each instance's steps.
  query Dashboard {
    workflows(first: 10) {
      nodes {
        name
        instanceCounts {
          running
          waiting
          complete
          errored
          total
        }
        instances(first: 5) {
          totalCount
          nodes {
            instanceId
            status
            createdOn
            canPause
            canResume
            steps {
              __typename
              ... on NamedStep {
                name
                startedOn
                endedOn
              }
              ... on DoStep {
                success
                attempts {
                  success
                  error {
                    message
                  }
                }
              }
              ... on SleepStep {
                wakesOn
              }
              ... on WaitForEventStep {
                eventType
                timesOutOn
              }
            }
          }
        }
      }
    }
  }
`;

/** The mutation tab: creates an instance of a demo workflow; every run makes a new one (the id is generated). */
export const CREATE_ORDER_MUTATION = /* GraphQL */ `
  # Creates an order-fulfillment instance. It runs its first steps, sleeps a minute, then waits for a
  # "payment-approved" event: send { "approved": true } with sendInstanceEvent to complete it.
  # Mutations answer a union: the payload, or a typed error (every error type implements Error).
  mutation CreateOrder($params: JSON = { customer: "you@example.com" }) {
    createInstance(input: { workflowName: "order-fulfillment", params: $params }) {
      __typename
      ... on CreateInstancePayload {
        instanceId
        instance {
          status
          createdOn
        }
      }
      ... on Error {
        message
      }
    }
  }
`;

/** The subscription tab: the demo order that sleeps its cool-off, then waits for its payment event. */
export const WATCH_ORDER_SUBSCRIPTION = /* GraphQL */ `
  # The status of the demo order order-1004 now, then every change, over WebSocket. After its cool-off sleep
  # it waits for a "payment-approved" event; send one from another tab to see it complete:
  #   mutation { sendInstanceEvent(input: { workflowName: "order-fulfillment", instanceId: "order-1004",
  #     type: "payment-approved", payload: { approved: true } }) { __typename } }
  # A workflow or instance that does not exist answers one null event, as the queries do.
  subscription WatchOrder {
    instanceStatusChanged(workflowName: "order-fulfillment", instanceId: "order-1004") {
      status
      previousStatus
      at
      instance {
        instanceId
        canPause
        canResume
      }
    }
  }
`;

/** The tabs GraphiQL opens with (until the browser has tabs of its own stored). */
export const DEFAULT_TABS: readonly { readonly query: string }[] = [
  { query: DEFAULT_QUERY },
  { query: CREATE_ORDER_MUTATION },
  { query: WATCH_ORDER_SUBSCRIPTION },
];

/** Where GraphiQL is served: the GraphQL endpoint, opened in a browser. */
const GRAPHIQL_PATH = '/graphql';

/** Content codings the page is sent in, best first; `identity` is the page as it is. */
const CODINGS = ['br', 'gzip'] as const;
type Coding = (typeof CODINGS)[number] | 'identity';

const compress: Record<Exclude<Coding, 'identity'>, (page: Buffer) => Promise<Buffer>> = {
  // Quality 6: 21 % of the page in about 0.4 s, once; 11 would save another 2 % in 25 s.
  br: (page) =>
    promisify(brotliCompress)(page, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 6,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: page.length,
      },
    }),
  gzip: (page) => promisify(gzip)(page, { level: 9 }),
};

interface Representation {
  readonly bytes: Buffer;
  readonly etag: string;
}

/**
 * Serves GraphiQL, with every asset inlined (no CDN) so local mode works offline, at `GET /graphql` from a
 * browser (yoga's rule: a GET that accepts HTML). The page is about 9 MB, so it is rendered on the first request
 * rather than at start-up, and each content coding is compressed once, on the first request that accepts it, and
 * kept: brotli or gzip as `Accept-Encoding` allows, with `Vary`, `Content-Length` and an `ETag` per coding.
 *
 * Put first among the plugins: the page runs nothing and reveals nothing, so it needs no credential (its
 * requests carry the one typed into its headers editor), and it is answered before authentication. Without
 * this plugin (`GRAPHIQL=false`) such a GET is a GraphQL request like any other.
 */
export function useGraphiQL(options: GraphiQLOptions): Plugin {
  let page: Promise<{ readonly bytes: Buffer; readonly hash: string }> | undefined;
  const representations = new Map<Coding, Promise<Representation>>();

  function representation(coding: Coding): Promise<Representation> {
    let kept = representations.get(coding);
    if (kept === undefined) {
      page ??= import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => {
        const bytes = Buffer.from(renderGraphiQL(options), 'utf8');
        return { bytes, hash: createHash('sha256').update(bytes).digest('base64url').slice(0, 22) };
      });
      const rendered = page;
      kept = (async () => {
        const { bytes, hash } = await rendered;
        return { bytes: coding === 'identity' ? bytes : await compress[coding](bytes), etag: `"${hash}-${coding}"` };
      })();
      // A failure (say, the renderer missing from node_modules) is not kept: the next request tries again.
      kept.catch(() => {
        representations.delete(coding);
        if (page === rendered) page = undefined;
      });
      representations.set(coding, kept);
    }
    return kept;
  }

  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || url.pathname !== GRAPHIQL_PATH) return;
      if (!(request.headers.get('accept') ?? '').includes('text/html')) return;
      const coding = negotiate(request.headers.get('accept-encoding'));
      const { bytes, etag } = await representation(coding);
      const headers: Record<string, string> = {
        'content-type': 'text/html; charset=utf-8',
        vary: 'Accept-Encoding',
        etag,
        // Revalidated on every visit (a 304 while the server runs the same version).
        'cache-control': 'no-cache',
      };
      if (coding !== 'identity') headers['content-encoding'] = coding;
      const matches = (request.headers.get('if-none-match') ?? '').split(',').some((t) => t.trim() === etag);
      if (matches) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      headers['content-length'] = String(bytes.length);
      endResponse(new fetchAPI.Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers }));
    },
  };
}

/** The best coding `Accept-Encoding` allows (`q` weights, `*`; ties go to the smaller br); identity otherwise. */
export function negotiate(acceptEncoding: string | null): Coding {
  const weights = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (name === '') continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(name, Number.isFinite(weight) ? weight : 0);
  }
  let best: Coding = 'identity';
  let bestWeight = 0;
  for (const coding of CODINGS) {
    const weight = weights.get(coding) ?? weights.get('*') ?? 0;
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  return best;
}
