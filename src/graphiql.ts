import type { GraphiQLOptions } from 'graphql-yoga';

/** The query GraphiQL opens with: it works on the emulator's demo data from the first click. */
export const DEFAULT_QUERY = /* GraphQL */ `
  # Welcome to Workflows GraphQL.
  # Press the run button to list your workflows, their latest instances and each instance's steps.
  # In local mode this runs against the built-in emulator's demo data.
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
              name
              startedOn
              endedOn
              ... on DoStep {
                success
                attempts {
                  success
                  error {
                    message
                  }
                }
              }
              ... on WaitForEventStep {
                eventType
                finished
              }
            }
          }
        }
      }
    }
  }
`;

const pages = new Map<string, Promise<string>>();

/**
 * GraphiQL with every asset inlined (no CDN), so local mode works offline. The bundle is several
 * megabytes, so it is loaded on the first GraphiQL request rather than at start-up, and each rendered page
 * is kept: yoga asks with the same options every time.
 */
export function renderOfflineGraphiQL(options: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(options);
  let page = pages.get(key);
  if (page === undefined) {
    page = import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => renderGraphiQL(options));
    pages.set(key, page);
  }
  return page;
}
