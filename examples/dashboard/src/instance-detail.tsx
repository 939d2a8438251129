import { useState } from 'preact/hooks';
import type { Connection } from './graphql-client';
import type { InstanceDetailFragment } from './gql/graphql';
import { useQuery, useSubscription } from './hooks';
import { InstanceActions } from './instance-actions';
import { InstanceQuery, InstanceUpdatedSubscription } from './operations';
import { formatTime, StatusBadge } from './status';
import { StepTimeline } from './step-timeline';

interface Props {
  readonly connection: Connection;
  readonly workflowName: string;
  readonly instanceId: string;
}

/** One instance: its status, params, output and step timeline, kept current by `instanceUpdated`; and its actions. */
export function InstanceDetail({ connection, workflowName, instanceId }: Props) {
  const variables = { workflowName, instanceId };
  const query = useQuery(connection, InstanceQuery, variables);
  // Each event is the whole instance as it is now; it replaces what the query answered.
  const [live, setLive] = useState<InstanceDetailFragment | undefined>(undefined);
  // `instanceUpdated` completes after a final status; a restart starts the instance, and the subscription, again.
  const [generation, setGeneration] = useState(0);
  // A null event: the instance does not exist (any more), as a null `instance` answers a query.
  const [gone, setGone] = useState(false);
  const liveError = useSubscription(
    connection,
    InstanceUpdatedSubscription,
    variables,
    (data) => {
      setGone(data.instanceUpdated === null);
      if (data.instanceUpdated) setLive(data.instanceUpdated);
    },
    generation,
  );
  const instance = live ?? query.data?.instance ?? undefined;

  return (
    <section aria-labelledby="instance-heading" data-testid="instance-detail">
      <h2 id="instance-heading">
        {workflowName} / {instanceId}
      </h2>
      {query.error && <p role="alert">{query.error.readable}</p>}
      {liveError && <p role="alert">{liveError.readable}</p>}
      {((query.data && query.data.instance === null && !live) || gone) && (
        <p role="alert">This instance does not exist.</p>
      )}
      {instance && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={instance.status} />
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(instance.createdOn)}</dd>
            <dt>Ended</dt>
            <dd>{formatTime(instance.endedOn)}</dd>
            <dt>Params</dt>
            <dd>
              <pre>{JSON.stringify(instance.params, null, 2) ?? '–'}</pre>
            </dd>
            {instance.output !== null && instance.output !== undefined && (
              <>
                <dt>Output</dt>
                <dd>
                  <pre>{JSON.stringify(instance.output, null, 2)}</pre>
                </dd>
              </>
            )}
            {instance.error && (
              <>
                <dt>Error</dt>
                <dd class="failed">
                  {instance.error.name}: {instance.error.message}
                </dd>
              </>
            )}
          </dl>
          <InstanceActions
            connection={connection}
            instance={instance}
            onRestarted={() => setGeneration((g) => g + 1)}
          />
          <StepTimeline connection={connection} instance={instance} />
        </>
      )}
    </section>
  );
}
