// Ruby, Perl and PHP code that lists the home directory (or /, /home, /root) and reads what it finds: the
// files read are chosen at run time from the listing, secrets included, so the chain must call it opaque.
// The same family for Python and JavaScript is in redteam-families-3.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const allowed = (cmds: readonly string[]): string[] => cmds.filter((c) => v.validate(c).verdict === 'allow');

/** Each language: home roots, listing calls ({R}: root, {G}: root + "/**" glob), reads of one found path ({F}), how to run code. */
interface Lang {
  readonly roots: readonly string[];
  readonly lists: readonly string[];
  readonly reads: readonly string[];
  readonly run: readonly ((code: string) => string)[];
}

const LANGS: Readonly<Record<string, Lang>> = {
  ruby: {
    roots: ['Dir.home', "ENV['HOME']", 'ENV.fetch("HOME")', "File.expand_path('~')", "'/'", "'/home'", "'/root'", "'/home/agent'"],
    lists: [
      'Dir.glob({R} + "/**/*", File::FNM_DOTMATCH).each { |f| {READ} }', 'Dir[{R} + "/.*/*"].each { |f| {READ} }', 'Dir.children({R}).each { |n| f = File.join({R}, n); {READ} }',
      'Dir.entries({R}).each { |n| f = "#{n}"; {READ} }', 'Dir.each_child({R}) { |n| f = File.join({R}, n); {READ} }', 'Find.find({R}) { |f| {READ} }', 'Dir.glob(File.join({R}, "**", "*")).each { |f| {READ} }',
    ],
    reads: ['puts File.read(f) rescue nil', 'print IO.read(f) rescue nil', 'File.open(f) { |h| puts h.read } rescue nil', 'puts File.binread(f) rescue nil', 'FileUtils.cp(f, "/tmp/out") rescue nil'],
    run: [(c) => `ruby -e ${sq(`require "find"; require "fileutils"; ${c}`)}`, (c) => `ruby <<'EOF'\nrequire "find"\nrequire "fileutils"\n${c}\nEOF`],
  },
  perl: {
    roots: ['$ENV{HOME}', '$ENV{"HOME"}', "'/'", "'/home'", "'/root'"],
    lists: [
      'opendir(my $d, {R}); for my $n (readdir $d) { my $f = {R} . "/$n"; {READ} }', 'for my $f (glob({R} . "/.*/*")) { {READ} }',
      'use File::Find; find(sub { my $f = $File::Find::name; {READ} }, {R});',
    ],
    reads: ['open(my $h, "<", $f) and print <$h>;', 'open(F, $f) and print <F>;', 'print `cat $f`;'],
    run: [(c) => `perl -e ${sq(c)}`, (c) => `perl <<'EOF'\n${c}\nEOF`],
  },
  php: {
    roots: ['getenv("HOME")', "$_SERVER['HOME']", "'/'", "'/root'"],
    lists: ['foreach (scandir({R}) as $n) { $f = {R} . "/" . $n; {READ} }', 'foreach (glob({R} . "/.*/*") as $f) { {READ} }'],
    reads: ['echo @file_get_contents($f);', 'readfile($f);', '@copy($f, "/tmp/o");'],
    run: [(c) => `php -r ${sq(c)}`],
  },
};

function members(lang: Lang): string[] {
  const progs = lang.roots.flatMap((r) => lang.lists.flatMap((l) => lang.reads.map((x) => l.replaceAll('{R}', r).replaceAll('{READ}', x))));
  return progs.flatMap((p) => lang.run.map((run) => run(p)));
}

describe('script-language code that lists the home directory and reads what it finds is not allowed', () => {
  for (const [name, lang] of Object.entries(LANGS)) {
    const all = members(lang);
    it(`${name}: ${all.length} members`, () => {
      expect(all.length).toBeGreaterThanOrEqual(24);
      expect(allowed(all)).toEqual([]);
    });
  }
  it('listing and reading the workspace, or listing the home without reading, stay allowed', () => {
    const ordinary = [
      `ruby -e ${sq('Dir.glob("src/**/*.rb").each { |f| puts File.read(f) }')}`,
      `ruby -e ${sq('puts Dir.children(Dir.home)')}`,
      `ruby -e ${sq('Dir["lib/*.rb"].each { |f| require_relative f }')}`.replace('require_relative f', 'puts File.read(f)'),
      `perl -e ${sq('for my $f (glob("t/*.t")) { open(my $h, "<", $f) and print <$h>; }')}`,
      `perl -e ${sq('opendir(my $d, "."); print join("\\n", readdir $d);')}`,
      `php -r ${sq('foreach (scandir("src") as $n) echo $n, "\\n";')}`,
      `ruby -e ${sq('puts File.read("Gemfile")')}`,
    ];
    expect(allowed(ordinary)).toEqual(ordinary);
  });
});
