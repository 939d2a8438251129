import { useEffect, useState } from 'preact/hooks';
import type { Connection } from './graphql-client';
import type { InstanceStatus } from './gql/graphql';
import { asRequestError, useQuery } from './hooks';
import { describeMutationError } from './mutation-errors';
import { CreateInstanceMutation, InstancesQuery } from './operations';
import { formatTime, StatusBadge } from './status';

const PAGE_SIZE = 5;

const STATUSES: readonly InstanceStatus[] = [
  'QUEUED',
  'RUNNING',
  'WAITING',
  'WAITING_FOR_PAUSE',
  'PAUSED',
  'ROLLING_BACK',
  'COMPLETE',
  'ERRORED',
  'TERMINATED',
];

/** Where the page is: the first one, after a page's `endCursor`, or before a page's `startCursor`. */
type Page = { readonly after?: string; readonly before?: string };

interface Props {
  readonly connection: Connection;
  readonly workflowName: string;
  /** Grows with every live change of this workflow: the page is asked again. */
  readonly changes: number;
  readonly selected: string | undefined;
  readonly onSelect: (instanceId: string) => void;
}

/** One workflow's instances, paged with the Relay cursors, filtered by status; and a form to create one. */
export function InstanceList({ connection, workflowName, changes, selected, onSelect }: Props) {
  const [status, setStatus] = useState<InstanceStatus | ''>('');
  const [page, setPage] = useState<Page>({});
  const { data, error, refetch } = useQuery(connection, InstancesQuery, {
    workflowName,
    status: status === '' ? null : status,
    ...(page.before === undefined
      ? { first: PAGE_SIZE, after: page.after ?? null }
      : { last: PAGE_SIZE, before: page.before }),
  });
  useEffect(() => {
    if (changes > 0) refetch();
  }, [changes]);

  const instances = data?.workflow?.instances;
  return (
    <section aria-labelledby="instances-heading">
      <h2 id="instances-heading">{workflowName}</h2>
      <CreateInstance connection={connection} workflowName={workflowName} onCreated={onSelect} />
      <label>
        Status{' '}
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.currentTarget.value as InstanceStatus | '');
            setPage({});
          }}
        >
          <option value="">all</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase().replaceAll('_', ' ')}
            </option>
          ))}
        </select>
      </label>
      {error && <p role="alert">{error.readable}</p>}
      {data && data.workflow === null && <p role="alert">Workflow {workflowName} does not exist.</p>}
      {instances && (
        <>
          <p>{instances.totalCount} instances</p>
          <table>
            <thead>
              <tr>
                <th>Instance</th>
                <th>Status</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {instances.edges.map(({ node }) => (
                <tr
                  key={node.instanceId}
                  class={node.instanceId === selected ? 'selected' : undefined}
                  data-testid={`instance-row-${node.instanceId}`}
                >
                  <td>
                    <button class="link" onClick={() => onSelect(node.instanceId)}>
                      {node.instanceId}
                    </button>
                  </td>
                  <td>
                    <StatusBadge status={node.status} />
                  </td>
                  <td>{formatTime(node.createdOn)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager">
            <button
              disabled={!instances.pageInfo.hasPreviousPage || instances.pageInfo.startCursor == null}
              onClick={() => setPage({ before: instances.pageInfo.startCursor ?? undefined })}
            >
              Previous page
            </button>
            <button
              disabled={!instances.pageInfo.hasNextPage || instances.pageInfo.endCursor == null}
              onClick={() => setPage({ after: instances.pageInfo.endCursor ?? undefined })}
            >
              Next page
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

function CreateInstance(props: { connection: Connection; workflowName: string; onCreated: (id: string) => void }) {
  const [instanceId, setInstanceId] = useState('');
  const [params, setParams] = useState('{}');
  const [message, setMessage] = useState<{ text: string; failed: boolean } | undefined>(undefined);

  const create = async (event: Event): Promise<void> => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(params);
    } catch {
      setMessage({ text: 'Params must be JSON, such as {"orderId": "A-1"}.', failed: true });
      return;
    }
    try {
      const { createInstance: result } = await props.connection.execute(CreateInstanceMutation, {
        input: { workflowName: props.workflowName, params: parsed, ...(instanceId === '' ? {} : { instanceId }) },
      });
      if (result.__typename === 'CreateInstancePayload') {
        setMessage({ text: `Created ${result.instanceId} (${result.status.toLowerCase()}).`, failed: false });
        setInstanceId('');
        props.onCreated(result.instanceId);
      } else {
        setMessage({ text: describeMutationError(result), failed: true });
      }
    } catch (failure) {
      setMessage({ text: asRequestError(failure).readable, failed: true });
    }
  };

  return (
    <form class="create" onSubmit={create}>
      <label>
        New instance id{' '}
        <input value={instanceId} placeholder="generated" onInput={(e) => setInstanceId(e.currentTarget.value)} />
      </label>
      <label>
        Params (JSON) <textarea rows={2} value={params} onInput={(e) => setParams(e.currentTarget.value)} />
      </label>
      <button type="submit">Create instance</button>
      {message && <p role={message.failed ? 'alert' : 'status'}>{message.text}</p>}
    </form>
  );
}
