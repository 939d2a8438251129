import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { resultWithoutHttp, withoutHttpExtension } from '../../src/errors/without-http.js';

// graphql-ws and graphql-sse send errors through this one helper, so both transports send the same shape.
describe('errors without extensions.http', () => {
  it('drops http and keeps the other extensions', () => {
    const error = new GraphQLError('No.', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
    expect(withoutHttpExtension(error)).toEqual({ message: 'No.', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('drops extensions altogether when http was all they held', () => {
    const error = new GraphQLError('No.', { extensions: { http: { status: 400 } } });
    expect(withoutHttpExtension(error)).toEqual({ message: 'No.' });
  });

  it('leaves a result without http alone, and formats the errors of one with it', () => {
    const plain = new GraphQLError('Plain.', { extensions: { code: 'NOT_FOUND' } });
    expect(resultWithoutHttp({ data: null, errors: [plain] })).toBeUndefined();
    const withHttp = new GraphQLError('Coded.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
    expect(resultWithoutHttp({ data: null, errors: [plain, withHttp] })).toEqual({
      data: null,
      errors: [
        { message: 'Plain.', extensions: { code: 'NOT_FOUND' } },
        { message: 'Coded.', extensions: { code: 'BAD_REQUEST' } },
      ],
    });
  });
});
