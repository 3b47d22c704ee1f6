// The closing line of `npm test` (scripts/test-tiers): every failure counts,
// including a file whose setup threw while another file of its tier had a
// failed test. The report shapes are vitest 4's JSON reporter's, as captured
// from a run of one file with a throwing beforeAll and one with a failed test.
import { describe, expect, it } from 'vitest';
import { closingLine, countTiers } from '../../scripts/lab/support/tier-counts.js';

const brokenSetup = { name: '/t/a.test.ts', status: 'failed', assertionResults: [{ status: 'skipped' }, { status: 'skipped' }] };
const oneFailed = { name: '/t/b.test.ts', status: 'failed', assertionResults: [{ status: 'passed' }, { status: 'failed' }] };
const allPassed = { name: '/t/c.test.ts', status: 'passed', assertionResults: [{ status: 'passed' }] };
const report = (files: Array<typeof allPassed>, passed: number, failed: number, pending: number) => ({ numPassedTests: passed, numFailedTests: failed, numPendingTests: pending, numTodoTests: 0, testResults: files });

describe('the closing count of the test tiers', () => {
  it('counts a file whose setup threw even when another file of its tier has a failed test', () => {
    expect(countTiers([report([brokenSetup, oneFailed], 1, 1, 2)])).toEqual({ passed: 1, failed: 2, skipped: 2 });
  });

  it('counts a file whose setup threw alone, and a tier that wrote no report', () => {
    expect(countTiers([report([brokenSetup, allPassed], 1, 0, 2), undefined])).toEqual({ passed: 1, failed: 2, skipped: 2 });
  });

  it('adds the tiers up and prints the line npm test ends with', () => {
    const counts = countTiers([report([allPassed], 1, 0, 0), report([oneFailed], 1, 1, 0)]);
    expect(closingLine(counts)).toBe('tests: 2 passed, 1 failed');
    expect(closingLine({ passed: 3, failed: 0, skipped: 1 })).toBe('tests: 3 passed, 0 failed, 1 skipped');
  });
});
