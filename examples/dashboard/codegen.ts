import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Types every operation of src/operations.ts from the server's printed schema, and writes the trusted-documents
 * manifest (src/gql/persisted-documents.json) that the server's TRUSTED_DOCUMENTS reads: the README's
 * "Trusted documents" section of this repository describes both sides.
 */
const config: CodegenConfig = {
  schema: '../../schema/schema.graphql',
  documents: ['src/operations.ts'],
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        // The operations select plain fields, not masked fragments: one file of documents stays readable.
        fragmentMasking: false,
        // Keeps each document's text and adds `__meta__.hash`: a development build sends the text (to a server with
        // TRUSTED_DOCUMENTS_MODE off), a production build only the hash (src/graphql-client.ts).
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
      },
      config: {
        // TypedDocumentString: the document as text, no GraphQL printer in the bundle.
        documentMode: 'string',
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: false,
      },
    },
  },
};

export default config;
