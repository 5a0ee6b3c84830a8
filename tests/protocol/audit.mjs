// Runs graphql-http's GraphQL-over-HTTP server audits against a running server.
// Usage: node tests/protocol/audit.mjs http://127.0.0.1:8000/graphql
// Prints one JSON line per audit: {"id", "name", "status", "reason"}; status is
// "ok", or "notice"/"warn"/"error" with the audit's reason. Exit code 2 on bad usage.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint url>');
  process.exit(2);
}

for (const audit of serverAudits({ url, fetchFn: fetch })) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // An audit throws only on a fatal problem (e.g. the server is unreachable).
    result = { id: audit.id, name: audit.name, status: 'error', reason: `audit threw: ${err}` };
  }
  const { id, name, status } = result;
  const reason = status === 'ok' ? null : String(result.reason);
  console.log(JSON.stringify({ id, name, status, reason }));
}
