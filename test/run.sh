#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, build, every test, and a
# closing line "N passed, N failed". Services a test needs (InfluxDB, wattplace
# itself) are started by the tests' own setup on free loopback ports.
set -uo pipefail
cd "$(dirname "$0")/.."
bash test/setup/system-deps.sh || { echo "system package install failed"; echo "0 passed, 1 failed"; exit 1; }
npm run -s build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p .tmp
rm -f .tmp/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
rc=$?
node -e '
  const fs = require("fs");
  let r; try { r = JSON.parse(fs.readFileSync(".tmp/vitest.json", "utf8")); } catch { console.log("0 passed, 1 failed"); process.exit(0); }
  // a file that failed to load counts as one failure (it has no failed assertions of its own)
  const broken = (r.testResults || []).filter(f => f.status === "failed" && !(f.assertionResults || []).some(a => a.status === "failed")).length;
  const failed = r.numFailedTests + broken;
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
'
exit $rc
