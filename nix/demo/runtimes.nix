# nix/demo/runtimes.nix — language runtimes for the demo set, wrapped from the host's Debian
# binaries, so that nixpacks' node and python providers have something real to run offline.
#
# Each runtime is copied into the store with the shared libraries it loads, and its ELF files are
# patched (patchelf) to use that copy of the dynamic loader and libraries: nothing under /usr or
# /lib is needed at run time, so an image holding only the runtime runs it (`docker run
# --network none HOST/nodejs_20 node -e …`). Inputs are copied by content (builtins.path), so the
# store paths change exactly when the host's files do.
#
# Takes:
#   buildBusybox   the demo set's build tool (its sh runs every builder)
#   hostLibDir     ? "/usr/lib/x86_64-linux-gnu"  where the shared libraries are copied from
#   patchelf       ? "/usr/bin/patchelf"          Debian's patchelf, run by the builders
#   strip          ? "/usr/bin/strip"             binutils' strip (the node binary carries debug info)
#   nodeBinary     ? "/usr/bin/node"              Node.js, with npm in npmDir (NodeSource's package)
#   npmDir         ? "/usr/lib/node_modules/npm"
#   nodeVersionHeader ? "/usr/include/node/node_version.h"  the version, read at evaluation
#   pythonBinary   ? "/usr/bin/python3.11"         Debian's CPython, its standard library in pythonLib
#   pythonLib      ? "/usr/lib/python3.11"
#   pythonWheels   ? "/usr/share/python-wheels"    pip and setuptools wheels for ensurepip (venv)
#   pythonVersionHeader ? "/usr/include/python3.11/patchlevel.h"
#
# Returns: { nodejs, hasNode, nodeMajor (the demo set names it nodejs_<major>: nodejs_20), python3,
# zlib, libstdcxx }.
{ buildBusybox
, hostLibDir ? "/usr/lib/x86_64-linux-gnu"
, patchelf ? "/usr/bin/patchelf"
, strip ? "/usr/bin/strip"
, nodeBinary ? "/usr/bin/node"
, npmDir ? "/usr/lib/node_modules/npm"
, nodeVersionHeader ? "/usr/include/node/node_version.h"
, pythonBinary ? "/usr/bin/python3.11"
, pythonLib ? "/usr/lib/python3.11"
, pythonWheels ? "/usr/share/python-wheels"
, pythonVersionHeader ? "/usr/include/python3.11/patchlevel.h"
}:

let
  inherit (builtins) any baseNameOf concatStringsSep elemAt filter head isString match pathExists split stringLength substring;

  system = builtins.currentSystem;
  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  # A host file or directory, copied by content; an evaluation error naming what to install when it is missing.
  host = path: name: hint:
    if pathExists path then builtins.path { path = toString path; inherit name; }
    else throw "the demo set's runtimes need ${toString path}, which is missing: ${hint}";

  # The host's shared libraries whose file names start with one of `prefixes` (symlinks and their targets).
  libraries = name: prefixes: builtins.path {
    path = hostLibDir;
    name = "${name}-libraries";
    filter = p: type: any (prefix: hasPrefix prefix (baseNameOf p)) prefixes;
  };

  # The value of `#define NAME …` in a C header (a string literal's quotes dropped).
  defined = header: define:
    let
      lines = filter isString (split "\n" (builtins.readFile header));
      values = builtins.concatMap (line: let m = match "#define +${define} +\"?([^\" ]+)\"?.*" line; in if m == null then [ ] else m) lines;
    in if values == [ ] then throw "no #define ${define} in ${toString header}" else head values;

  # The glibc every runtime carries (loader and libc), and what each runtime adds.
  glibc = [ "ld-linux-x86-64.so.2" "libc.so.6" "libm.so.6" "libdl.so.2" "libpthread.so.0" "librt.so.1" "libresolv.so.2" "libutil.so.1" ];

  # A derivation built by busybox sh: copies `libs` into $out/lib, runs `build`, then points every
  # ELF executable and shared object under $out at that loader and those libraries.
  wrapped = { name, version, description, libs, build }: derivation {
    name = "${name}-${version}";
    inherit system;
    builder = "${buildBusybox}/bin/busybox";
    PATH = "${buildBusybox}/bin";
    args = [ "sh" "-euc" ''
      mkdir -p $out/lib
      cp -L ${libs}/* $out/lib/
      chmod 0755 $out/lib/*
      ${build}
      chmod -R u+w $out
      # ELF programs get this copy of the loader, and every ELF file but glibc's own these libraries.
      find $out -type f \( -perm -u+x -o -name '*.so*' \) | while read -r f; do
        [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || continue
        case "''${f##*/}" in ${concatStringsSep "|" glibc}) continue ;; esac
        if ${patchelf} --print-interpreter "$f" >/dev/null 2>&1; then
          ${patchelf} --set-interpreter $out/lib/ld-linux-x86-64.so.2 "$f"
        fi
        ${patchelf} --set-rpath $out/lib "$f"
      done
    '' ];
  } // { meta.description = description; version = version; pname = name; };

  nodeVersion = let h = host nodeVersionHeader "node_version.h" "apt-get install nodejs (NodeSource, with its headers)"; in
    "${defined h "NODE_MAJOR_VERSION"}.${defined h "NODE_MINOR_VERSION"}.${defined h "NODE_PATCH_VERSION"}";

  nodejs = wrapped {
    name = "nodejs";
    version = nodeVersion;
    description = "Node.js ${nodeVersion} with npm (the host's NodeSource build, made self-contained)";
    libs = libraries "nodejs" (glibc ++ [ "libstdc++.so.6" "libgcc_s.so.1" ]);
    build = ''
      mkdir -p $out/bin $out/lib/node_modules
      cp ${host nodeBinary "node" "apt-get install nodejs"} $out/bin/node
      chmod 0755 $out/bin/node
      ${strip} $out/bin/node
      cp -R ${host npmDir "npm" "apt-get install nodejs (it brings npm)"} $out/lib/node_modules/npm
      chmod -R u+w $out/lib/node_modules/npm
      # npm's own scripts run this node, not whichever `node` comes first on PATH.
      for cli in npm-cli.js npx-cli.js; do
        sed -i "1s|^#!.*|#!$out/bin/node|" $out/lib/node_modules/npm/bin/$cli
        chmod 0755 $out/lib/node_modules/npm/bin/$cli
      done
      ln -s ../lib/node_modules/npm/bin/npm-cli.js $out/bin/npm
      ln -s ../lib/node_modules/npm/bin/npx-cli.js $out/bin/npx
    '';
  };

  pythonVersion = if pathExists pythonVersionHeader then defined pythonVersionHeader "PY_VERSION" else "3.11";

  python3 = wrapped {
    name = "python3";
    version = pythonVersion;
    description = "CPython ${pythonVersion} with venv and pip wheels (the host's Debian build, made self-contained)";
    # libpython is linked into Debian's python3.11; these are what it and its extension modules load.
    libs = libraries "python3" (glibc ++ [
      "libz.so.1" "libexpat.so.1" "libffi.so.8" "libssl.so.3" "libcrypto.so.3" "libsqlite3.so.0" "libbz2.so.1.0"
      "liblzma.so.5" "libuuid.so.1" "libcrypt.so.1" "libreadline.so.8" "libtinfo.so.6" "libncursesw.so.6"
      "libpanelw.so.6" "libnsl.so.2" "libtirpc.so.3" "libgssapi_krb5.so.2" "libkrb5.so.3" "libk5crypto.so.3"
      "libcom_err.so.2" "libkrb5support.so.0" "libkeyutils.so.1" "libdb-5.3.so" "libgcc_s.so.1"
    ]);
    build = ''
      mkdir -p $out/bin $out/libexec $out/lib $out/share
      # Debian's python finds its standard library from where its binary is (its built-in prefix is
      # /usr); an image whose /bin is a link to this bin/ would hide that, so bin/ holds a script
      # that runs the binary from libexec/ by its store path.
      cp ${host pythonBinary "python3.11" "apt-get install python3.11"} $out/libexec/python3.11
      chmod 0755 $out/libexec/python3.11
      printf '#!%s\nexec %s "$@"\n' ${buildBusybox}/bin/sh $out/libexec/python3.11 > $out/bin/python3.11
      chmod 0555 $out/bin/python3.11
      ln -s python3.11 $out/bin/python3
      ln -s python3.11 $out/bin/python
      cp -R ${stdlib} $out/lib/python3.11
      chmod -R u+w $out/lib/python3.11
      # pip refuses Debian's "externally managed" marker; this python is no longer Debian's.
      rm -f $out/lib/python3.11/EXTERNALLY-MANAGED
      cp -R ${host pythonWheels "python-wheels" "apt-get install python3.11-venv (it brings the pip wheels)"} $out/share/python-wheels
      # ensurepip (venv) finds its wheels where sysconfig says.
      sed -i "s|/usr/share/python-wheels|$out/share/python-wheels|g" $out/lib/python3.11/_sysconfigdata_*.py
    '';
  };

  # The standard library without compiled caches (they are made again, and hold timestamps).
  stdlib = builtins.path {
    path = toString pythonLib;
    name = "python3-stdlib";
    filter = p: type: baseNameOf p != "__pycache__";
  };

in
{
  inherit nodejs python3;
  hasNode = pathExists nodeVersionHeader;
  nodeMajor = head (match "([0-9]+)[.].*" nodeVersion);

  zlib = wrapped {
    name = "zlib";
    version = "1";
    description = "the zlib compression library (the host's)";
    libs = libraries "zlib" [ "libz.so.1" ];
    build = "";
  };

  libstdcxx = wrapped {
    name = "gcc-lib";
    version = "12";
    description = "libstdc++ and libgcc_s (the host's), what nixpkgs calls stdenv.cc.cc.lib";
    libs = libraries "gcc-lib" [ "libstdc++.so.6" "libgcc_s.so.1" ];
    build = "";
  };
}
