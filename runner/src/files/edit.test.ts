import { describe, expect, it } from 'vitest';
import { applyEdit, nearestMatch, occurrences } from './edit.ts';

const file = ['import x from "y";', '', 'function add(a, b) {', '  return a + b;', '}', '', 'export { add };', ''].join('\n');

describe('applyEdit', () => {
  it('replaces one exact occurrence and says on which line', () => {
    const r = applyEdit(file, '  return a + b;', '  return a + b + 0;');
    expect(r).toMatchObject({ ok: true, replaced: 1, line: 4 });
    expect(r.ok && r.text).toBe(file.replace('a + b;', 'a + b + 0;'));
  });

  it('refuses an ambiguous search unless told which or all', () => {
    const text = 'a = 1\nb = 1\nc = 1\n';
    expect(applyEdit(text, '= 1', '= 2')).toMatchObject({ ok: false, code: 'edit_ambiguous', count: 3, lines: [1, 2, 3] });
    expect(applyEdit(text, '= 1', '= 2', 'all')).toMatchObject({ ok: true, replaced: 3, text: 'a = 2\nb = 2\nc = 2\n' });
    expect(applyEdit(text, '= 1', '= 2', 2)).toMatchObject({ ok: true, replaced: 1, line: 2, text: 'a = 1\nb = 2\nc = 1\n' });
    expect(applyEdit(text, '= 1', '= 2', 4)).toMatchObject({ ok: false, code: 'edit_no_match' });
  });

  it('names the nearest text when the search is missing, and how it differs', () => {
    const tabs = applyEdit(file, 'function add(a, b) {\n    return a + b;\n}', 'x');
    expect(tabs).toMatchObject({ ok: false, code: 'edit_no_match', nearest: { line: 3, endLine: 5, hint: 'it differs only in whitespace or indentation' } });
    expect(!tabs.ok && tabs.message).toContain('line 3-5');
    const typo = applyEdit(file, '  return a - b;', 'x');
    expect(typo).toMatchObject({ ok: false, nearest: { line: 4, text: '  return a + b;' } });
    expect(!typo.ok && typo.code === 'edit_no_match' && typo.nearest?.hint).toMatch(/first difference at line 4/);
    const cased = applyEdit(file, 'EXPORT { ADD };', 'x');
    expect(cased).toMatchObject({ ok: false, nearest: { line: 7, hint: 'it differs only in letter case' } });
  });

  it('says nothing is near when nothing is', () => {
    expect(applyEdit(file, 'zzzz qqqq', 'x')).toMatchObject({ ok: false, code: 'edit_no_match', nearest: null, message: 'the search text was not found' });
  });

  it('handles an empty file and a search longer than the file', () => {
    expect(applyEdit('', 'a', 'b')).toMatchObject({ ok: false, code: 'edit_no_match' });
    expect(nearestMatch('ab\n', 'ab\ncd\nef')).toMatchObject({ line: 1 });
  });

  it('counts occurrences without overlap', () => {
    expect(occurrences('aaaa', 'aa')).toEqual([0, 2]);
  });
});
