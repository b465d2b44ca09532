// Preloaded into the ledger bench's harness and runner with BENCH_MEMLOG=DIR (`--import`): every
// 250 ms one line of the process's memoryUsage() in MB, to DIR/<pid>-<script>.log. Tells RSS that is
// V8 heap from RSS that is Buffer/ArrayBuffer memory or neither (the allocator's), which /proc alone cannot.
import { appendFileSync } from 'node:fs';

const dir = process.env.BENCH_MEMLOG;
if (dir) {
  const file = `${dir}/${process.pid}-${(process.argv[1] ?? 'node').split('/').slice(-3).join('_')}.log`;
  const mb = (b: number) => Math.round(b / 1048576);
  const t0 = Date.now();
  setInterval(() => {
    const m = process.memoryUsage();
    appendFileSync(file, `${Date.now() - t0} rss ${mb(m.rss)} heapTotal ${mb(m.heapTotal)} heapUsed ${mb(m.heapUsed)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}\n`);
  }, 250).unref();
}
