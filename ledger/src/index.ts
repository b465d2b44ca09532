export { ensureLogStream, isNotFound, DUPLICATE_WINDOW_NS } from './stream.ts';
export { RunLogWriter } from './writer.ts';
export type { RunLogWriterOptions, AppendOptions } from './writer.ts';
export { readRunLog, readRunLogRaw, logTail } from './reader.ts';
export type { ReadLogOptions } from './reader.ts';
export { CONTROL_RULE, EGRESS_DENIED_RULE, EGRESS_HELD_RULE, ROLLBACK_RULE, ensureAuditStream, indexControl, indexEgressDenial, indexEgressHold, indexRollback, indexVerdict, isControlEntry, readAudit, readAuditEntries } from './audit.ts';
export type { AuditEntry, AuditQuery } from './audit.ts';
