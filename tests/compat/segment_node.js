// Drives @segment/analytics-node, unmodified, for tests/compat/test_segment_node.py: reads a
// plan as JSON from argv[2], makes its calls, waits for closeAndFlush, and prints what the
// library saw (each HTTP answer's status, each delivery error) as one JSON line.
'use strict'

const { Analytics } = require('@segment/analytics-node')

async function main() {
  const plan = JSON.parse(process.argv[2])
  const analytics = new Analytics({
    writeKey: plan.writeKey,
    host: plan.host,
    flushAt: plan.flushAt ?? 15,
    flushInterval: plan.flushInterval ?? 200,
    maxRetries: plan.maxRetries ?? 10,
  })
  const statuses = []
  const errors = []
  analytics.on('http_response', (response) => statuses.push(response.status))
  analytics.on('error', (err) => errors.push(String(err && (err.reason || err.code || err))))

  for (const call of plan.calls) {
    const [method, args] = call
    analytics[method](args)
  }
  await analytics.closeAndFlush({ timeout: plan.timeoutMs ?? 60000 })
  process.stdout.write(JSON.stringify({ statuses, errors }) + '\n')
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n')
  process.exit(1)
})
