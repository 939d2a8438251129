import { useEffect, useRef, useState } from 'preact/hooks';
import { RequestError, SHUTTING_DOWN, type Connection } from './graphql-client';
import type { TypedDocumentString } from './gql/graphql';

export interface QueryState<R> {
  readonly data: R | undefined;
  readonly error: RequestError | undefined;
  /** Asks again (a live event said the answer changed); requests made meanwhile collapse into one more. */
  readonly refetch: () => void;
}

/** Runs a query when the connection or `key` (the variables as JSON) changes, keeping the last answer meanwhile. */
export function useQuery<R, V>(
  connection: Connection,
  document: TypedDocumentString<R, V>,
  variables: V,
): QueryState<R> {
  const key = JSON.stringify(variables);
  const [data, setData] = useState<R | undefined>(undefined);
  const [error, setError] = useState<RequestError | undefined>(undefined);
  const run = useRef<() => void>(() => {});

  useEffect(() => {
    let active = true;
    let inFlight = false;
    let again = false;
    const ask = (): void => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      connection
        .execute(document, JSON.parse(key) as V)
        .then(
          (answer) => {
            if (!active) return;
            setData(answer);
            setError(undefined);
          },
          (failure: unknown) => {
            if (active) setError(asRequestError(failure));
          },
        )
        .finally(() => {
          inFlight = false;
          if (active && again) {
            again = false;
            ask();
          }
        });
    };
    run.current = ask;
    ask();
    // Live events missed while the connection was down are not replayed: ask again once it is back.
    const stopListening = connection.onReconnected(ask);
    return () => {
      active = false;
      stopListening();
    };
  }, [connection, document, key]);

  return { data, error, refetch: () => run.current() };
}

/**
 * Subscribes while mounted, and again when the connection, the variables or `generation` change (a subscription that
 * completed, such as `instanceUpdated` after a final status, is started again by a new generation); `onData` may
 * change freely. A subscription the server ended because it was stopping (SHUTTING_DOWN) is no failure to show: it
 * is started again once that connection has closed, and graphql-ws then connects anew, retrying until the server
 * is back.
 */
export function useSubscription<R, V>(
  connection: Connection,
  document: TypedDocumentString<R, V>,
  variables: V,
  onData: (data: R) => void,
  generation = 0,
): RequestError | undefined {
  const key = JSON.stringify(variables);
  const [error, setError] = useState<RequestError | undefined>(undefined);
  // Bumped to subscribe again after the server ended the subscription while shutting down.
  const [resubscriptions, setResubscriptions] = useState(0);
  const handler = useRef(onData);
  handler.current = onData;
  useEffect(() => {
    setError(undefined);
    let stopWaiting = (): void => {};
    const unsubscribe = connection.subscribe(
      document,
      JSON.parse(key) as V,
      (data) => handler.current(data),
      (failure) => {
        if (failure.code === SHUTTING_DOWN)
          stopWaiting = connection.afterClose(() => setResubscriptions((count) => count + 1));
        else setError(failure);
      },
    );
    return () => {
      stopWaiting();
      unsubscribe();
    };
  }, [connection, document, key, generation, resubscriptions]);
  return error;
}

export function asRequestError(failure: unknown): RequestError {
  return failure instanceof RequestError ? failure : new RequestError(String(failure), undefined);
}
