import { Airlock } from '@airlock/client';

await using airlock = await Airlock.connect({ servers: process.env.AIRLOCK_NATS ?? 'nats://127.0.0.1:4222' });
await using run = await airlock.open(); // closed when this scope ends

const r = await run.exec('echo hello from the sandbox; exit 3');
console.log(`exit ${r.exitCode}: ${r.stdout.trim()}`); // a non-zero exit is a result, not an exception

for await (const e of run.log({ follow: false })) console.log(`#${e.seq} ${e.type}`);
console.log(`run ${run.runId}`);
