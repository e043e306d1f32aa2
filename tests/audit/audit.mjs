// Runs graphql-http's audit of a GraphQL-over-HTTP server and prints the results as JSON.
// Usage: node audit.mjs URL CLIENT_TOKEN
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const withToken = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...(init.headers || {}), Authorization: token } });
const results = await auditServer({ url, fetchFn: withToken });
console.log(JSON.stringify(results.map(({ id, name, status, reason }) => ({ id, name, status, reason }))));
