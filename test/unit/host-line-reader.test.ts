// What a running program prints, as transports receive it: chunks cut
// anywhere. Lines are decoded whole; bytes up to a marker come back raw.
import { describe, expect, it } from 'vitest';
import { LineReader } from '../../lib/host/host.js';

describe('LineReader', () => {
  it('keeps a character cut between two chunks, and gives raw bytes up to a marker cut between chunks', async () => {
    const reader = new LineReader();
    const euro = Buffer.from('€ acquired\n');
    reader.push(euro.subarray(0, 1));
    reader.push(euro.subarray(1));
    expect(await reader.next()).toBe('€ acquired');
    const body = Buffer.from([0xff, 0x0a, 0xe2, 0x82]);
    const until = reader.until('\n@@n done ');
    reader.push(Buffer.concat([body, Buffer.from('\n@@n do')]));
    reader.push('ne 0\n');
    expect(await until).toEqual(body);
    expect(await reader.next()).toBe('0');
  });

  it('reads are served in the order asked; at the end the last line may lack a newline, a missing marker gives undefined', async () => {
    const reader = new LineReader();
    const first = reader.next();
    const second = reader.until('END');
    const third = reader.next();
    reader.push('one\ntwo');
    reader.close();
    expect([await first, await second, await third, await reader.next()]).toEqual(['one', undefined, 'two', undefined]);
  });
});
