# nix/demo/default.nix — the offline nixyard demo package set.
#
# A small stand-in for nixpkgs that needs neither nixpkgs nor a network: every package is made
# from the host's statically linked busybox (Debian: `apt-get install busybox-static`), so the
# integration and e2e tests and `nixyard serve --demo` work on an offline machine.
#
# Takes (every argument is optional; load-pkgs.nix passes `system` and whatever the `path`
# source's "args" hold):
#   system         ? builtins.currentSystem  the derivations' system
#   syntheticCount ? 0                        how many synthetic packages to add (synthetic.nix)
#   busyboxPath    ? "/bin/busybox"           a regular file holding a static busybox whose file
#                                             name is "busybox"; it is the first builder (see
#                                             `busybox` below), so Nix needs `sandbox = false`
#   caBundlePath   ? "/etc/ssl/certs/ca-certificates.crt"
#                                             the host's CA bundle for `cacert`; when it does not
#                                             exist, ./ca-bundle.crt (three public roots) is used
#   slowSeconds    ? 600                      how long `slow-demo` sleeps while it builds
#
# Returns an attribute set. Derivations (each `bin/` entry is a symlink to, or a `#!` script
# run by, the one busybox binary, so every closure is small and real):
#   busybox          bin/busybox and a symlink per applet
#   bashInteractive  bin/bash (runs busybox ash), bin/sh; `bash` is the same derivation
#   coreutils        ls cat echo env mkdir cp mv rm ln … (the coreutils that busybox has)
#   moreutils        sponge (a script), ts
#   nano             bin/nano: busybox vi under nano's name
#   hello            bin/hello prints exactly "Hello, world!"
#   cacert           etc/ssl/certs/ca-bundle.crt (and ca-certificates.crt, a symlink to it)
#   iana-etc         etc/protocols, etc/services
#   wget less gzip gnutar (also `tar`) which gnugrep gnused gawk findutils: busybox applets
#   _1hello          bin/1hello — how nixpkgs names attributes that begin with a digit
#   tools.hello2     bin/hello2 — a derivation inside a nested set (dotted attribute paths)
#   broken-demo      evaluation refuses it like nixpkgs refuses a broken package
#   unfree-demo      evaluation refuses it like nixpkgs refuses an unfree package
#   removed-demo     throws when evaluated, like a removed nixpkgs alias
#   failing-demo     evaluates, but its build prints a log and fails
#   slow-demo        evaluates, but its build sleeps `slowSeconds` (for Nix timeout tests)
#   synth-lib-NNN, synth-app-NNN   when syntheticCount > 0 (see synthetic.nix)
# and plain data: `tools` (a set, not a package), `syntheticApps` and `syntheticLibs` (lists of
# attribute names), `syntheticInfo` (name → { size, deps }).
#
# Store paths are a function of the arguments and of the busybox binary's bytes only, and no
# output holds a timestamp: two builds give the same paths and the same file contents.
{ system ? builtins.currentSystem
, syntheticCount ? 0
, busyboxPath ? "/bin/busybox"
, caBundlePath ? "/etc/ssl/certs/ca-certificates.crt"
, slowSeconds ? 600
}:

let
  inherit (builtins) attrNames concatStringsSep listToAttrs replaceStrings;

  # Single-quote a string for the shell.
  shq = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # A string, so that neither `builder` nor the script below copies the host file to the store.
  busyboxHostPath = toString busyboxPath;

  # The host binary added to the store by content: every demo store path changes exactly when
  # these bytes change.
  busyboxBinary = builtins.path { path = busyboxHostPath; name = "busybox-binary"; };

  # The only derivation whose builder is outside the store. Nix runs a builder with argv[0] set
  # to the builder's file name; busybox chooses its applet by that name, so it must be
  # "busybox" (a store file is named "<hash>-<name>", which busybox would not recognise).
  # Later builders use ${busybox}/bin/busybox, whose file name is "busybox" too.
  busybox = derivation {
    name = "busybox";
    inherit system;
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
  } // { meta.description = "busybox: many Unix tools in one static binary (the host's copy)"; };

  bb = "${busybox}/bin/busybox";

  # mkPkg { name, description, links, scripts, texts, copies, build, env }: a derivation built
  # by busybox sh with PATH=${busybox}/bin. The first four map a path inside $out to:
  #   links:   a symlink target          scripts: the body of a `#!${busybox}/bin/sh` script
  #   texts:   the text of a file        copies:  a file to copy (a Nix path or a store path)
  # then `build` (shell code) runs; `env` adds attributes to the derivation.
  mkPkg = { name, description, links ? { }, scripts ? { }, texts ? { }, copies ? { }
          , build ? "", env ? { } }:
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
      inherit name system;
      builder = bb;
      args = [ "sh" "-euc" script ];
      PATH = "${busybox}/bin";
    } // env) // { meta.description = description; };

  # A package of busybox applets linked under their own names. Applets that this busybox lacks
  # are skipped, except the first one, which must exist.
  appletPkg = name: description: applets: mkPkg {
    inherit name description;
    build = ''
      mkdir -p $out/bin
      have=" $(busybox --list | tr '\n' ' ') "
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
    # `bash` cannot be a symlink: busybox would look for an applet called "bash".
    scripts."bin/bash" = ''exec ${busybox}/bin/ash "$@"'';
    links."bin/sh" = bb;
  };

  hello = mkPkg {
    name = "hello";
    description = "prints a friendly greeting";
    scripts."bin/hello" = "echo 'Hello, world!'";
  };

  syntheticSet = import ./synthetic.nix { inherit system busybox; count = syntheticCount; };

  packages = {
    inherit busybox bashInteractive hello;
    bash = bashInteractive;

    coreutils = appletPkg "coreutils" "basic file, shell and text tools (busybox applets)"
      coreutilsApplets;

    moreutils = mkPkg {
      name = "moreutils";
      description = "sponge and ts";
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
      scripts."bin/nano" = ''exec ${busybox}/bin/vi "$@"'';
    };

    cacert = mkPkg {
      name = "cacert";
      description = "a bundle of X.509 certificates of public certificate authorities";
      copies."etc/ssl/certs/ca-bundle.crt" =
        if builtins.pathExists caBundlePath
        then builtins.path { path = toString caBundlePath; name = "ca-bundle.crt"; }
        else ./ca-bundle.crt;
      links."etc/ssl/certs/ca-certificates.crt" = "ca-bundle.crt";
    };

    iana-etc = mkPkg {
      name = "iana-etc";
      description = "/etc/protocols and /etc/services";
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
      build = "sleep ${toString slowSeconds}";
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
packages // { tar = packages.gnutar; } // syntheticSet.packages // {
  syntheticApps = syntheticSet.apps;
  syntheticLibs = syntheticSet.libs;
  syntheticInfo = syntheticSet.info;
}
