// Drives posthog-node (the pinned package, unmodified) for tests/compat/test_posthog_node.py.
// Reads one JSON spec on stdin, makes the calls it names, shuts the client down, and prints
// one JSON line: the errors the client emitted (status and message) and the uuids it sent.
const { PostHog } = require('posthog-node');

async function main() {
  const spec = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const client = new PostHog(spec.apiKey, {
    host: spec.host,
    flushAt: spec.flushAt || 20,
    flushInterval: 0,
    fetchRetryCount: spec.fetchRetryCount ?? 3,
    fetchRetryDelay: spec.fetchRetryDelay ?? 3000,
    disableCompression: !!spec.disableCompression,
    // No flags are evaluated by this service; nothing asks for them here.
    preloadFeatureFlags: false,
  });
  const errors = [];
  const sent = [];
  client.on('error', (err) => errors.push({ status: err && err.status, message: String(err && err.message) }));
  client.on('flush', (messages) => sent.push(...messages.map((m) => m.uuid)));
  for (const call of spec.calls) {
    if (call.kind === 'capture') {
      client.capture({ distinctId: call.distinctId, event: call.event, properties: call.properties || {}, uuid: call.uuid });
    } else if (call.kind === 'identify') {
      client.identify({ distinctId: call.distinctId, properties: call.properties || {} });
    } else if (call.kind === 'alias') {
      client.alias({ distinctId: call.distinctId, alias: call.alias });
    } else if (call.kind === 'groupIdentify') {
      client.groupIdentify({ groupType: call.groupType, groupKey: call.groupKey, properties: call.properties || {}, distinctId: call.distinctId });
    } else {
      throw new Error(`unknown call ${call.kind}`);
    }
  }
  const started = Date.now();
  await client.shutdown(spec.shutdownMs || 60000);
  process.stdout.write(JSON.stringify({ errors, sent, ms: Date.now() - started }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
