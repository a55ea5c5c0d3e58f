# nix/demo/default.nix — the offline nixyard demo package set.
#
# A small stand-in for nixpkgs that needs neither nixpkgs nor a network: every package is made
# from the host's statically linked busybox (Debian: `apt-get install busybox-static`), so the
# integration and e2e tests and `nixyard serve --demo` work on an offline machine.
#
# Two architectures. For the machine's own system (builtins.currentSystem), the packages run the
# host's busybox. For system = "aarch64-linux" on another machine (x86_64), the same packages
# hold Debian's arm64 static busybox instead (scripts/fetch-arm64-busybox.sh fetches it): every
# `#!` line and symlink points at that busybox, but every derivation is still built on this
# machine (its `system` is builtins.currentSystem, its builder the host's busybox), and no
# aarch64 code runs while building. So two busyboxes are kept apart below: `buildBusybox` (the
# host's, runs the builds) and `busybox` (the target's, what the packages hold and run); they
# are the same derivation for the machine's own system. Packages without programs (cacert,
# iana-etc) have the same store paths for both systems.
#
# Takes (every argument is optional; load-pkgs.nix passes `system` and whatever the `path`
# source's "args" hold):
#   system         ? builtins.currentSystem  the system the packages are for: the machine's own,
#                                             or "aarch64-linux" (others are an error)
#   syntheticCount ? 0                        how many synthetic packages to add (synthetic.nix)
#   busyboxPath    ? "/bin/busybox"           a regular file holding a static busybox whose file
#                                             name is "busybox"; it is the first builder (see
#                                             `buildBusybox` below), so Nix needs `sandbox = false`
#   busyboxAarch64Path ? "/usr/local/lib/nixyard/busybox-aarch64"
#                                             Debian's arm64 static busybox (an aarch64 ELF; any
#                                             file name), used only for system = "aarch64-linux"
#   caBundlePath   ? "/etc/ssl/certs/ca-certificates.crt"
#                                             the host's CA bundle for `cacert`; when it does not
#                                             exist, ./ca-bundle.crt (three public roots) is used
#   slowSeconds    ? 600                      how long `slow-demo` sleeps while it builds
#   tickerSeconds  ? 4                        how many one-second steps `ticker-demo` prints
#
# Returns an attribute set. Derivations (each `bin/` entry is a symlink to, or a `#!` script
# run by, the one busybox binary of the target system, so every closure is small and real):
#   busybox          bin/busybox and a symlink per applet
#   bashInteractive  bin/bash (runs busybox ash), bin/sh; `bash` is the same derivation
#   coreutils        ls cat echo env mkdir cp mv rm ln … (the coreutils that busybox has)
#   moreutils        sponge (a script), ts
#   nano             bin/nano: busybox vi under nano's name
#   hello            bin/hello prints exactly "Hello, world!"
#   cacert           etc/ssl/certs/ca-bundle.crt (and ca-certificates.crt, a symlink to it)
#   iana-etc         etc/protocols, etc/services
#   wget less gzip gnutar (also `tar`) which gnugrep gnused gawk findutils: busybox applets
#   passwd-demo      etc/passwd and etc/group of its own (a user demo, uid 1000)
#   _1hello          bin/1hello — how nixpkgs names attributes that begin with a digit
#   tools.hello2     bin/hello2 — a derivation inside a nested set (dotted attribute paths)
#   broken-demo      evaluation refuses it like nixpkgs refuses a broken package
#   unfree-demo      evaluation refuses it like nixpkgs refuses an unfree package
#   removed-demo     throws when evaluated, like a removed nixpkgs alias
#   failing-demo     evaluates, but its build prints a log and fails
#   slow-demo        evaluates, but its build sleeps `slowSeconds` (for Nix timeout tests)
#   ticker-demo      its build prints "ticker-demo: step i of N" once a second, then succeeds
#                    (for following build logs)
#   The store paths of slow-demo and ticker-demo also depend on the environment variable
#   NIXYARD_DEMO_RUN when Nix evaluates them, so that each test run builds them again (a new
#   value, new derivations, no waiting on another test's build lock); unset, they are stable.
#   synth-lib-NNN, synth-app-NNN   when syntheticCount > 0 (see synthetic.nix)
# and plain data: `tools` (a set, not a package), `syntheticApps` and `syntheticLibs` (lists of
# attribute names), `syntheticInfo` (name → { size, deps }).
#
# Store paths are a function of the arguments and of the busybox binaries' bytes only, and no
# output holds a timestamp: two builds give the same paths and the same file contents.
{ system ? builtins.currentSystem
, syntheticCount ? 0
, busyboxPath ? "/bin/busybox"
, busyboxAarch64Path ? "/usr/local/lib/nixyard/busybox-aarch64"
, caBundlePath ? "/etc/ssl/certs/ca-certificates.crt"
, slowSeconds ? 600
, tickerSeconds ? 4
}:

let
  inherit (builtins) attrNames concatStringsSep listToAttrs replaceStrings;

  # Licenses as nixpkgs' lib.licenses spells them (meta.license; SBOMs read spdxId). Outside the
  # derivations, like all of meta: they change no store path.
  licenses = {
    gpl2Only = { spdxId = "GPL-2.0-only"; shortName = "gpl2Only"; fullName = "GNU General Public License v2.0 only"; free = true; };
    gpl3Plus = { spdxId = "GPL-3.0-or-later"; shortName = "gpl3Plus"; fullName = "GNU General Public License v3.0 or later"; free = true; };
    mit = { spdxId = "MIT"; shortName = "mit"; fullName = "MIT License"; free = true; };
    mpl20 = { spdxId = "MPL-2.0"; shortName = "mpl20"; fullName = "Mozilla Public License 2.0"; free = true; };
  };

  # Test runs set it to rebuild slow-demo and ticker-demo (see above).
  demoRun = builtins.getEnv "NIXYARD_DEMO_RUN";

  # Single-quote a string for the shell.
  shq = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # The machine that builds every derivation, and whether the packages are for it. For the
  # machine's own system, every derivation below is exactly what it was before aarch64 support
  # (same store paths).
  buildSystem = builtins.currentSystem;
  native = system == buildSystem;

  # A string, so that neither `builder` nor the script below copies the host file to the store.
  busyboxHostPath = toString busyboxPath;

  # The host binary added to the store by content: every demo store path changes exactly when
  # these bytes change.
  busyboxBinary = builtins.path { path = busyboxHostPath; name = "busybox-binary"; };

  # The host's busybox: the `busybox` package for the machine's own system, and the build tool of
  # every derivation for any system. The only derivation whose builder is outside the store. Nix
  # runs a builder with argv[0] set to the builder's file name; busybox chooses its applet by
  # that name, so it must be "busybox" (a store file is named "<hash>-<name>", which busybox
  # would not recognise). Later builders use ${buildBusybox}/bin/busybox, named "busybox" too.
  buildBusybox = derivation {
    name = "busybox";
    system = buildSystem;
    builder = busyboxHostPath;
    args = [ "sh" "-euc" ''
      b=${busyboxHostPath}
      $b mkdir -p $out/bin
      $b cp ${busyboxBinary} $out/bin/busybox
      $b chmod 0555 $out/bin/busybox
      for applet in $($out/bin/busybox --list); do
        [ "$applet" = busybox ] || $b ln -s busybox "$out/bin/$applet"
      done
    '' ];
  } // { meta = { description = "busybox: many Unix tools in one static binary (the host's copy)"; license = licenses.gpl2Only; }; };

  # Debian's arm64 busybox, copied into the store by content, never run: its applets are read
  # from the binary's table of applet names (the NUL-separated, sorted list that begins with
  # "[", "[[" and ends with an empty name, which is what `busybox --list` prints).
  busyboxAarch64 =
    let
      hostPath = toString busyboxAarch64Path;
      binary =
        if builtins.pathExists hostPath
        then builtins.path { path = hostPath; name = "busybox-aarch64-binary"; }
        else throw ("the demo package set for aarch64-linux needs Debian's arm64 static busybox at "
          + "${hostPath}, which is missing: run scripts/fetch-arm64-busybox.sh");
    in
    derivation {
      name = "busybox";
      system = buildSystem;
      builder = "${buildBusybox}/bin/busybox";
      PATH = "${buildBusybox}/bin";
      args = [ "sh" "-euc" ''
        mkdir -p $out/bin
        cp ${binary} $out/bin/busybox
        chmod 0555 $out/bin/busybox
        # ELF magic, 64-bit, little endian, e_machine 183 (EM_AARCH64) at offset 18
        header=$(od -An -v -tx1 -N20 $out/bin/busybox | tr -d ' \n')
        case "$header" in
          7f454c460201????????????????????????b700) ;;
          *) echo "${hostPath} is not an aarch64 ELF binary (header $header): run scripts/fetch-arm64-busybox.sh --force" >&2; exit 1 ;;
        esac
        applets=$(tr '\0' '\n' < $out/bin/busybox \
          | awk 'f == 0 && prev == "[" && $0 == "[[" { f = 1; print "[" } f == 1 { if ($0 == "") exit; print } { prev = $0 }')
        [ "$(echo "$applets" | grep -c .)" -gt 50 ] || { echo "no table of applet names in ${hostPath}" >&2; exit 1; }
        for applet in $applets; do
          [ "$applet" = busybox ] || ln -s busybox "$out/bin/$applet"
        done
      '' ];
    } // { meta = { description = "busybox: many Unix tools in one static binary (Debian's busybox-static for arm64)"; license = licenses.gpl2Only; }; };

  # The busybox the packages hold and run, for the target system.
  busybox =
    if native then buildBusybox
    else if system == "aarch64-linux" then busyboxAarch64
    else throw "the demo package set has no busybox for ${system} (it has ${buildSystem} and aarch64-linux)";

  bb = "${busybox}/bin/busybox";
  buildBb = "${buildBusybox}/bin/busybox";

  # How a build lists the target busybox's applets: the host's busybox can ask itself; a foreign
  # one is never run, its package has a symlink per applet.
  listApplets = if native then "busybox --list" else "ls ${busybox}/bin";

  # mkPkg { name, description, links, scripts, texts, copies, build, env }: a derivation built
  # by the host's busybox sh with PATH=${buildBusybox}/bin. The first four map a path inside
  # $out to:
  #   links:   a symlink target          scripts: the body of a `#!${busybox}/bin/sh` script
  #   texts:   the text of a file        copies:  a file to copy (a Nix path or a store path)
  # then `build` (shell code) runs; `env` adds attributes to the derivation; `license` goes to meta.
  mkPkg = { name, description, links ? { }, scripts ? { }, texts ? { }, copies ? { }
          , build ? "", env ? { }, license ? null }:
    let
      each = set: f: concatStringsSep "\n"
        (map (p: ''mkdir -p "$(dirname "$out/${p}")"; '' + f p set.${p}) (attrNames set));
      script = concatStringsSep "\n" [
        "mkdir -p $out"
        (each links (p: t: ''ln -s ${shq t} "$out/${p}"''))
        (each scripts (p: body: ''printf '%s\n' ${shq "#!${busybox}/bin/sh\n${body}"} > "$out/${p}"; chmod 0555 "$out/${p}"''))
        (each texts (p: text: ''printf '%s' ${shq text} > "$out/${p}"''))
        (each copies (p: src: ''cp ${src} "$out/${p}"; chmod 0444 "$out/${p}"''))
        build
      ];
    in
    derivation ({
      inherit name;
      system = buildSystem;
      builder = buildBb;
      args = [ "sh" "-euc" script ];
      PATH = "${buildBusybox}/bin";
    } // env) // { meta = { inherit description; } // (if license == null then { } else { inherit license; }); };

  # A package of busybox applets linked under their own names. Applets that this busybox lacks
  # are skipped, except the first one, which must exist.
  appletPkg = name: description: applets: mkPkg {
    inherit name description;
    license = licenses.gpl2Only;
    build = ''
      mkdir -p $out/bin
      have=" $(${listApplets} | tr '\n' ' ') "
      for a in ${concatStringsSep " " (map shq applets)}; do
        case "$have" in
          *" $a "*) ln -s ${bb} "$out/bin/$a" ;;
          *) [ "$a" != ${shq (builtins.head applets)} ] || { echo "busybox has no $a applet" >&2; exit 1; } ;;
        esac
      done
    '';
  };

  coreutilsApplets = [
    "ls" "cat" "echo" "env" "mkdir" "cp" "mv" "rm" "ln" "[" "basename" "chgrp" "chmod" "chown"
    "cksum" "comm" "cut" "date" "dd" "df" "dirname" "du" "expand" "expr" "factor" "false" "fold"
    "head" "hostid" "id" "install" "link" "logname" "md5sum" "mkfifo" "mknod" "mktemp" "nl"
    "nproc" "od" "paste" "printf" "pwd" "readlink" "realpath" "rmdir" "seq" "sha1sum"
    "sha256sum" "sha512sum" "shred" "shuf" "sleep" "sort" "split" "stat" "stty" "sum" "sync"
    "tac" "tail" "tee" "test" "timeout" "touch" "tr" "true" "truncate" "tty" "uname" "unexpand"
    "uniq" "unlink" "users" "wc" "who" "whoami" "yes"
  ];

  bashInteractive = mkPkg {
    name = "bash-interactive";
    description = "bash and sh: busybox ash under bash's name (the demo has no real bash)";
    license = licenses.gpl3Plus;
    # `bash` cannot be a symlink: busybox would look for an applet called "bash".
    scripts."bin/bash" = ''exec ${busybox}/bin/ash "$@"'';
    links."bin/sh" = bb;
  };

  hello = mkPkg {
    name = "hello";
    description = "prints a friendly greeting";
    license = licenses.gpl3Plus;
    scripts."bin/hello" = "echo 'Hello, world!'";
  };

  # Node.js and Python wrapped from the host (runtimes.nix), for images built from application
  # source; only for the machine's own system.
  runtimes = import ./runtimes.nix { inherit buildBusybox; };
  runtimePackages = if !native then { } else
    { inherit (runtimes) python3 zlib; python311 = runtimes.python3; stdenv.cc.cc.lib = runtimes.libstdcxx; }
    // (if runtimes.hasNode then { "nodejs_${runtimes.nodeMajor}" = runtimes.nodejs; nodejs = runtimes.nodejs; } else { });

  syntheticSet = import ./synthetic.nix {
    inherit busybox buildBusybox;
    system = buildSystem;
    count = syntheticCount;
  };

  packages = {
    inherit busybox bashInteractive hello;
    bash = bashInteractive;

    coreutils = appletPkg "coreutils" "basic file, shell and text tools (busybox applets)"
      coreutilsApplets;

    moreutils = mkPkg {
      name = "moreutils";
      description = "sponge and ts";
      license = licenses.gpl2Only;
      links."bin/ts" = bb;
      # sponge: soak up all of stdin, then write it (to the file, or stdout). No temporary file:
      # a container built from a closure has no /tmp.
      scripts."bin/sponge" = ''
        data=$(${bb} cat; echo x)
        data=''${data%x}
        if [ $# -gt 0 ]; then printf '%s' "$data" > "$1"; else printf '%s' "$data"; fi
      '';
    };

    nano = mkPkg {
      name = "nano";
      description = "a text editor (busybox vi under nano's name)";
      license = licenses.gpl3Plus;
      scripts."bin/nano" = ''exec ${busybox}/bin/vi "$@"'';
    };

    cacert = mkPkg {
      name = "cacert";
      description = "a bundle of X.509 certificates of public certificate authorities";
      license = licenses.mpl20;
      copies."etc/ssl/certs/ca-bundle.crt" =
        if builtins.pathExists caBundlePath
        then builtins.path { path = toString caBundlePath; name = "ca-bundle.crt"; }
        else ./ca-bundle.crt;
      links."etc/ssl/certs/ca-certificates.crt" = "ca-bundle.crt";
    };

    iana-etc = mkPkg {
      name = "iana-etc";
      description = "/etc/protocols and /etc/services";
      license = licenses.mit;
      copies."etc/protocols" = ./iana-etc/protocols;
      copies."etc/services" = ./iana-etc/services;
    };

    wget = appletPkg "wget" "retrieves files over HTTP (busybox)" [ "wget" ];
    less = appletPkg "less" "a pager (busybox)" [ "less" ];
    gzip = appletPkg "gzip" "gzip, gunzip, zcat (busybox)" [ "gzip" "gunzip" "zcat" ];
    gnutar = appletPkg "gnutar" "tar (busybox)" [ "tar" ];
    which = appletPkg "which" "shows the full path of commands (busybox)" [ "which" ];
    gnugrep = appletPkg "gnugrep" "grep, egrep, fgrep (busybox)" [ "grep" "egrep" "fgrep" ];
    gnused = appletPkg "gnused" "sed (busybox)" [ "sed" ];
    gawk = appletPkg "gawk" "awk (busybox)" [ "awk" ];
    findutils = appletPkg "findutils" "find and xargs (busybox)" [ "find" "xargs" ];

    # Ships its own /etc/passwd and /etc/group (a user `demo`, uid 1000): an image's package
    # files win over the users nixyard generates.
    passwd-demo = mkPkg {
      name = "passwd-demo";
      description = "an /etc/passwd and /etc/group with a user demo (uid 1000)";
      texts."etc/passwd" = "root:x:0:0:root:/root:/bin/sh\ndemo:x:1000:1000:demo:/tmp:/bin/sh\n";
      texts."etc/group" = "root:x:0:\ndemo:x:1000:\n";
    };

    # Attribute-lookup fixtures for the tests.
    _1hello = mkPkg {
      name = "1hello";
      description = "an attribute whose name begins with a digit, as nixpkgs spells it";
      scripts."bin/1hello" = "echo 'Hello from _1hello!'";
    };
    tools = {
      hello2 = mkPkg {
        name = "hello2";
        description = "a package inside a nested attribute set";
        scripts."bin/hello2" = "echo 'Hello from tools.hello2!'";
      };
    };

    # Error fixtures: nixpkgs refuses broken and unfree packages when their derivation is
    # evaluated (drvPath, outPath), while `meta` stays readable; these do the same.
    broken-demo = refused "broken-demo" { broken = true; }
      "Package ‘broken-demo’ in ${toString ./default.nix} is marked as broken, refusing to evaluate.";
    unfree-demo = refused "unfree-demo" { license = { free = false; shortName = "unfree"; }; }
      "Package ‘unfree-demo’ in ${toString ./default.nix} has an unfree license (‘unfree’), refusing to evaluate.";

    # Like a removed nixpkgs alias: evaluating the attribute itself throws.
    removed-demo = throw "removed-demo has been removed from the demo set: use hello instead";

    failing-demo = mkPkg {
      name = "failing-demo";
      description = "its build fails";
      build = ''
        echo "failing-demo: compiling..."
        echo "failing-demo: error: this package is meant to fail to build" >&2
        exit 1
      '';
    };

    slow-demo = mkPkg {
      name = "slow-demo";
      description = "its build takes slowSeconds";
      build = ''
        echo "slow-demo: run" ${shq demoRun}
        sleep ${toString slowSeconds}
      '';
    };

    ticker-demo = mkPkg {
      name = "ticker-demo";
      description = "its build prints a step a second for tickerSeconds";
      build = ''
        echo "ticker-demo: run" ${shq demoRun}
        for i in $(seq 1 ${toString tickerSeconds}); do
          echo "ticker-demo: step $i of ${toString tickerSeconds}"
          sleep 1
        done
      '';
    };
  };

  refused = name: meta: message:
    let drv = mkPkg { inherit name; description = "refused by evaluation"; }; in
    drv // {
      meta = drv.meta // meta;
      drvPath = throw message;
      outPath = throw message;
    };

in
packages // { tar = packages.gnutar; } // runtimePackages // syntheticSet.packages // {
  syntheticApps = syntheticSet.apps;
  syntheticLibs = syntheticSet.libs;
  syntheticInfo = syntheticSet.info;
}
