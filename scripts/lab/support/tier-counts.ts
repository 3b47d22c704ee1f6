// The closing line of scripts/test-tiers: the counts of every tier's vitest
// JSON report together. A test file that failed without a failed test (its
// setup threw, or it did not load) counts as one failure of its own, whatever
// else failed in its tier.
// Usage: node scripts/lab/support/tier-counts.ts REPORT.json…   (a missing report: its tier crashed)
import { existsSync, readFileSync } from 'node:fs';

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ name: string; status: string; assertionResults: Array<{ status: string }> }>;
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Pure: the counts of the reports; undefined stands for a tier that wrote no report. */
export function countTiers(reports: ReadonlyArray<VitestReport | undefined>): Counts {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const r of reports) {
    if (!r) {
      counts.failed += 1;
      continue;
    }
    counts.passed += r.numPassedTests;
    const brokenFiles = r.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
    counts.failed += r.numFailedTests + brokenFiles;
    counts.skipped += r.numPendingTests + r.numTodoTests;
  }
  return counts;
}

export function closingLine(c: Counts): string {
  return `tests: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const reports = process.argv.slice(2).map((file) => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as VitestReport) : undefined));
  console.log(closingLine(countTiers(reports)));
}
