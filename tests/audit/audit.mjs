// Runs graphql-http's audit of a GraphQL-over-HTTP server and prints the results as JSON.
// Usage: node audit.mjs URL API_KEY
import { auditServer } from 'graphql-http';

const [url, apiKey] = process.argv.slice(2);
const withKey = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...(init.headers || {}), 'x-api-key': apiKey } });
const results = await auditServer({ url, fetchFn: withKey });
console.log(JSON.stringify(results.map(({ id, name, status, reason }) => ({ id, name, status, reason }))));
