/**
 * What a piece of interpreter code does, as far as static analysis can tell.
 * Language analysers fill it; `index.ts` turns it into findings.
 */
export interface Facts {
  /** Literal shell command strings handed to a shell (os.system, exec, backticks, …). */
  readonly shells: { text: string; api: string }[];
  /** Literal argv vectors executed without a shell (subprocess.run([...]), spawn, execFile, …). */
  readonly argvs: { argv: string[]; api: string }[];
  /** Execution APIs whose command is only known at run time. */
  readonly dynamicExec: string[];
  /** Code generated at run time (eval/exec of non-literals, computed imports, Function, vm, require(x)). */
  readonly dynamicCode: string[];
  /** Literal code evaluated (exec('…'), eval("…")): analysed again in the same language. */
  readonly literalCode: { lang: string; text: string }[];
  /** Decoding or de-obfuscation APIs (base64, codecs rot13, zlib, fromCharCode, …). */
  readonly decoders: string[];
  /** Literal paths read / written; deletes carry whether they recurse. */
  readonly reads: string[];
  readonly writes: string[];
  readonly deletes: { path: string; recursive: boolean }[];
  /** Roots of directory listings and walks (`os.walk`, `glob`, `Path.rglob`) whose root is a literal path. */
  readonly listed: string[];
  /** Fixed programs a library call runs by itself (`platform.platform()` runs `uname -p`): predicted, not judged as commands. */
  readonly helperExecs: string[];
  /** Files opened for reading at a path only known at run time (`open(os.path.join(root, name))`). */
  runtimeReads: number;
  /** Network APIs used; literal hosts they name; whether any had no literal host. */
  readonly netApis: string[];
  readonly hosts: string[];
  netUnknown: boolean;
  /** The whole environment read (os.environ, process.env, %ENV). */
  readonly envDumps: string[];
  /** File descriptors rewired (os.dup2, open STDIN dup), typical of reverse shells. */
  dup2: boolean;
}

export function newFacts(): Facts {
  return {
    shells: [], argvs: [], dynamicExec: [], dynamicCode: [], literalCode: [], decoders: [], reads: [], writes: [], deletes: [], listed: [], helperExecs: [], runtimeReads: 0,
    netApis: [], hosts: [], netUnknown: false, envDumps: [], dup2: false,
  };
}

/** Host part of a URL or `host:port` string, or null when the text is not one. */
export function urlHost(text: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^/:?#]*)/i.exec(text);
  if (m) return /^(file|data|blob)$/i.test(m[1]!) ? null : m[2]!.toLowerCase();
  return null;
}

/** A string that names a host (not a URL) where an API expects one: `example.com`, `10.0.0.1`, `localhost`, `::1`. */
export function bareHost(text: string): string | null {
  // host:port (IO::Socket PeerAddr, net strings) names the host.
  const t = text.toLowerCase().replace(/^([a-z0-9.-]+):\d+$/, '$1');
  if (t === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(t) || /^[0-9a-f]*:[0-9a-f:]*$/.test(t) || /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/.test(t)) return t;
  return null;
}
