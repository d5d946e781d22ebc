import t from 'tap';
import { SessionTable, type SessionTableOptions } from '../lib/table/session-table.ts';

// One validation test per option, as piscina does.
const bad: Record<keyof SessionTableOptions, unknown[]> = {
  size: [-1, 0, 1024, 64 * 1024 - 1, 2 ** 31 + 1, 1.5 * 1024 * 1024 + 0.5, '64MiB', NaN, Infinity, null],
  maxSessionSize: [0, -5, 65537, 1.5, '8KiB', NaN, null],
  timeout: [0, -1, 1.5, 604_801, '300', NaN, Infinity, null],
  clock: [0, 'now', {}, null],
  sweepInterval: [-1, 1.5, 2 ** 31, '10s', NaN, null],
};

for (const [option, values] of Object.entries(bad)) {
  t.test(`option ${option}: refuses bad values with ERR_TLS_CACHE_INVALID_OPTION`, async (t) => {
    for (const value of values) {
      t.throws(
        () => SessionTable.create({ [option]: value, sweepInterval: option === 'sweepInterval' ? value : 0 } as SessionTableOptions),
        { code: 'ERR_TLS_CACHE_INVALID_OPTION', name: 'InvalidOptionError', option, message: new RegExp(`"${option}"`) },
        String(value),
      );
    }
  });
}

t.test('options must be an object', async (t) => {
  for (const value of [null, 5, 'big']) {
    t.throws(() => SessionTable.create(value as SessionTableOptions), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  }
});

t.test('defaults: 32 MiB, 8 KiB sessions, 300 s', async (t) => {
  const table = SessionTable.create({ sweepInterval: 0 });
  t.ok(table.buffer.byteLength <= 32 * 1024 * 1024 && table.buffer.byteLength > 31.9 * 1024 * 1024, `${table.buffer.byteLength} bytes`);
  t.equal(table.maxSessionSize, 8192);
  t.equal(table.timeout, 300);
  t.throws(() => table.set(Buffer.from('id'), Buffer.alloc(8193)), { code: 'ERR_TLS_CACHE_INVALID_SESSION' });
});

t.test('the buffer stays within the budget for any size', async (t) => {
  for (const size of [64 * 1024, 100_000, 1 << 20, 3_000_001, 64 << 20]) {
    const table = SessionTable.create({ size, sweepInterval: 0 });
    t.ok(table.buffer.byteLength <= size && table.buffer.byteLength > size - 4096, `${size} -> ${table.buffer.byteLength}`);
  }
});

t.test('a budget too small for the largest session is refused with advice', async (t) => {
  t.throws(() => SessionTable.create({ size: 64 * 1024, maxSessionSize: 65536, sweepInterval: 0 }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    message: /raise size or lower maxSessionSize/,
  });
});

t.test('a clock that returns garbage is refused, not trusted', async (t) => {
  let value: unknown = Number.NaN;
  const table = SessionTable.create({ size: 64 * 1024, sweepInterval: 0, clock: () => value as number });
  t.throws(() => table.set(Buffer.from('id'), Buffer.from('s')), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'clock' });
  value = -1;
  t.throws(() => table.set(Buffer.from('id'), Buffer.from('s')), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'clock' });
  value = 1000;
  t.equal(table.set(Buffer.from('id'), Buffer.from('s')), true);
  value = 'soon';
  t.throws(() => table.get(Buffer.from('id')), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'clock' });
});
