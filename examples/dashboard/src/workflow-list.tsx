import type { Connection } from './graphql-client';
import { useQuery, useSubscription } from './hooks';
import { WorkflowInstancesChangedSubscription, WorkflowsQuery } from './operations';

interface Props {
  readonly connection: Connection;
  readonly selected: string | undefined;
  readonly onSelect: (workflowName: string) => void;
  /** Called for every new instance or status change of a workflow, as the server reports it. */
  readonly onChange: (workflowName: string) => void;
}

/** The workflows with their instance counts, which follow every change live. */
export function WorkflowList({ connection, selected, onSelect, onChange }: Props) {
  const { data, error, refetch } = useQuery(connection, WorkflowsQuery, {});
  const workflows = data?.workflows.nodes ?? [];
  return (
    <section aria-labelledby="workflows-heading">
      <h2 id="workflows-heading">Workflows</h2>
      {error && <p role="alert">{error.readable}</p>}
      <table>
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Running</th>
            <th>Waiting</th>
            <th>Paused</th>
            <th>Errored</th>
            <th>Complete</th>
            <th>Terminated</th>
            <th>Total</th>
          </tr>
        </thead>
        <tbody>
          {workflows.map(({ name, instanceCounts: counts }) => (
            <tr key={name} class={name === selected ? 'selected' : undefined} data-testid={`workflow-${name}`}>
              <td>
                <button class="link" onClick={() => onSelect(name)}>
                  {name}
                </button>
                <LiveWorkflow
                  connection={connection}
                  workflowName={name}
                  onChange={() => {
                    refetch();
                    onChange(name);
                  }}
                />
              </td>
              <td>{counts.running + counts.queued}</td>
              <td>{counts.waiting}</td>
              <td>{counts.paused}</td>
              <td>{counts.errored}</td>
              <td>{counts.complete}</td>
              <td data-testid="terminated">{counts.terminated}</td>
              <td data-testid="total">{counts.total}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** One graphql-ws subscription per workflow: new instances and status changes. Renders only its failure. */
function LiveWorkflow(props: { connection: Connection; workflowName: string; onChange: () => void }) {
  const error = useSubscription(
    props.connection,
    WorkflowInstancesChangedSubscription,
    { workflowName: props.workflowName },
    props.onChange,
  );
  return error ? (
    <span role="alert" class="live-error">
      {error.readable}
    </span>
  ) : null;
}
