import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendNodeResponse } from '@whatwg-node/server';
import type { YogaServerInstance } from 'graphql-yoga';
import { unexpectedError } from '../errors/coded-error.js';
import type { Logger } from '../logger.js';
import { errorResponse } from './error-response.js';
import { nameAndMessage } from './executor-failure.js';

/**
 * Yoga's Node `requestListener` with our answer to a failure outside any operation. A plugin's `onRequest` or
 * `onResponse` hook that throws (an authenticator's unexpected error, a GraphiQL page that cannot be rendered) ends
 * the adapter's handling; its own listener then answers 500 with the error's stack as a text body
 * (@whatwg-node/server's `handleErrorFromRequestHandler`), naming the server's files and whatever the message held,
 * and its last resort writes to the console. Here the client gets a 500 with the coded `INTERNAL_SERVER_ERROR`
 * every other unexpected failure gets, and the error goes to the log (test/integration/request-failures.test.ts).
 */
export function nodeRequestListener<T extends object>(
  yoga: YogaServerInstance<Record<string, unknown>, T>,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  const failed = (req: IncomingMessage, error: unknown): Response => {
    logger.error(
      { method: req.method, path: req.url?.split('?', 1)[0], error: nameAndMessage(error) },
      'a request failed outside its operation',
    );
    return errorResponse(500, unexpectedError());
  };
  return (req, res) => {
    // As yoga.requestListener: started at once (within the 'request' event), with the same server context, and
    // written by the adapter's own writer (one writeHead).
    let answer: Response | Promise<Response>;
    try {
      answer = yoga.handleNodeRequestAndResponse(req, res, { req, res });
    } catch (error) {
      answer = failed(req, error);
    }
    Promise.resolve(answer)
      .catch((error: unknown) => failed(req, error))
      .then((response) => sendNodeResponse(response as never, res, req, true))
      .catch((error: unknown) => {
        // A failure while writing (a streamed body that fails): yoga's listener would leave the socket open.
        logger.error({ error: nameAndMessage(error) }, 'could not write a response');
        res.destroy();
      });
  };
}
