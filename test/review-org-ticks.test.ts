import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../src/store/store';
import { ENGINES } from './helpers/engines';

const NOW = new Date('2026-11-28T10:00:00.000Z');

test('when a replica takes over org b, then the tick org a is running in this process is left alone', async () => {
  const sqlite = ENGINES.find((e) => e.name === 'sqlite')!;
  const store = new Store(await sqlite.openDb());
  const a = store.forOrg('a');
  const b = store.forOrg('b');
  const running = await a.startTick(NOW);
  await b.startTick(NOW);
  // takeOver(b) closes what b's previous holder left open: b's ticks only.
  assert.equal(await b.closeAbandonedTicks(NOW), 1);
  const row = await store.sql.get<{ result: string }>('SELECT result FROM ticks WHERE id = ?', [running]);
  assert.equal(row?.result, 'running');
  await store.db.close();
});
