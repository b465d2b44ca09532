import { createValidator } from './src/index.ts';
const v = await createValidator();
for (const c of process.argv.slice(2)) { const r = v.validate(c); console.log(JSON.stringify(c), '=>', r.verdict, r.rule, '|', r.reason, JSON.stringify(r.span), r.findings.length > 1 ? r.findings.slice(1).map(f => f.rule).join(',') : ''); }
